// Command public-and-internal is a CDK app made from Passthrough's
// public-and-internal template: one internet-facing Network Load Balancer
// whose TCP listeners pass TLS through untouched, in front of a Public
// service that clients on the internet reach and an Internal one that only
// Public's containers reach, at the load balancer's private addresses.
// README.md has its two commands and how to deploy it.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
)

func main() {
	defer jsii.Close()
	// Invalid props: one line on stderr and exit status 1, not a stack trace.
	defer passthrough.ExitOnValidationError()

	app := awscdk.NewApp(nil)
	if _, err := addStacks(app); err != nil {
		fmt.Fprintln(os.Stderr, err)
		jsii.Close()
		os.Exit(1)
	}
	app.Synth(nil)
}

// This app's settings: change the defaults here, or give a value for one
// command with -c KEY=VALUE (cdk synth -c stackName=Shop) or in cdk.json's
// context.
const (
	// stackName names the stack in CloudFormation: cdk deploy PublicAndInternal.
	stackNameKey, defaultStackName = "stackName", "PublicAndInternal"
	// image is the container image both services run. It must terminate
	// TLS on port 8443 with the certificate and key that it finds in the
	// TLS_CERT and TLS_KEY environment variables (PEM). Replace this
	// placeholder with your own image before deploying.
	imageKey, defaultImage = "image", "registry.example.com/my-tls-service:1.0.0"
)

// addStacks adds this app's stacks to app, named and configured by its
// context.
func addStacks(app awscdk.App) ([]awscdk.Stack, error) {
	stack := NewPublicAndInternalStack(app, setting(app, stackNameKey, defaultStackName), &PublicAndInternalStackProps{
		StackProps: awscdk.StackProps{
			Description: jsii.String("One internet-facing NLB (TCP), a public service and an internal one that the public one calls at the NLB's private addresses"),
		},
		Image: awsecs.ContainerImage_FromRegistry(jsii.String(setting(app, imageKey, defaultImage)), nil),
	})
	return []awscdk.Stack{stack}, nil
}

// setting is the context value key, or def when the context has none.
func setting(app awscdk.App, key, def string) string {
	if v, ok := app.Node().TryGetContext(jsii.String(key)).(string); ok && v != "" {
		return v
	}
	return def
}
