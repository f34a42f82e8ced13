// Command service-to-service is a CDK app made from Passthrough's
// service-to-service template: two ECS clusters, Orders and Billing, each
// with an internal Network Load Balancer whose TCP listener passes TLS
// through untouched, and each service calling the other through the other's
// load balancer, on Fargate or on EC2. README.md has its two commands and
// how to deploy it.
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
// command with -c KEY=VALUE (cdk synth -c launchType=EC2) or in cdk.json's
// context.
const (
	// stackName names the stack in CloudFormation: cdk deploy ServiceToService.
	stackNameKey, defaultStackName = "stackName", "ServiceToService"
	// image is the container image both services run. It must terminate
	// TLS on port 8443 with the certificate and key that it finds in the
	// TLS_CERT and TLS_KEY environment variables (PEM). Replace this
	// placeholder with your own image before deploying.
	imageKey, defaultImage = "image", "registry.example.com/my-tls-service:1.0.0"
	// launchType is FARGATE or EC2 (bridge networking, dynamic host ports).
	launchTypeKey, defaultLaunchType = "launchType", "FARGATE"
)

// addStacks adds this app's stacks to app, named and configured by its
// context.
func addStacks(app awscdk.App) ([]awscdk.Stack, error) {
	launchType := setting(app, launchTypeKey, defaultLaunchType)
	if launchType != "FARGATE" && launchType != "EC2" {
		return nil, fmt.Errorf("context %s %q: must be FARGATE or EC2", launchTypeKey, launchType)
	}
	stack := NewServiceToServiceStack(app, setting(app, stackNameKey, defaultStackName), &ServiceToServiceStackProps{
		StackProps: awscdk.StackProps{
			Description: jsii.String("Two clusters on " + launchType + ", each service calling the other through the other's internal NLB (TCP)"),
		},
		Image: awsecs.ContainerImage_FromRegistry(jsii.String(setting(app, imageKey, defaultImage)), nil),
		EC2:   launchType == "EC2",
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
