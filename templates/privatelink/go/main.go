// Command privatelink is a CDK app made from Passthrough's privatelink
// template: a provider stack that offers a TLS service behind an internal
// Network Load Balancer, whose TCP listener passes TLS through untouched, to
// other VPCs and accounts as a VPC endpoint service; and a consumer stack
// whose service calls it through an interface VPC endpoint. README.md has
// its two commands and how to deploy it.
package main

import (
	"fmt"
	"os"
	"strings"

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
// command with -c KEY=VALUE (cdk deploy PrivateLinkConsumer -c
// endpointServiceName=...) or in cdk.json's context.
const (
	// providerStackName and consumerStackName name the stacks in
	// CloudFormation: cdk deploy PrivateLinkProvider.
	providerStackNameKey, defaultProviderStackName = "providerStackName", "PrivateLinkProvider"
	consumerStackNameKey, defaultConsumerStackName = "consumerStackName", "PrivateLinkConsumer"
	// image is the container image both services run. It must terminate
	// TLS on port 8443 with the certificate and key that it finds in the
	// TLS_CERT and TLS_KEY environment variables (PEM). Replace this
	// placeholder with your own image before deploying.
	imageKey, defaultImage = "image", "registry.example.com/my-tls-service:1.0.0"
	// endpointServiceName is the provider's endpoint service, which the
	// consumer connects to: the value of the provider stack's output
	// EndpointServiceName... (com.amazonaws.vpce.REGION.vpce-svc-ID). The
	// placeholder lets the app synthesize anywhere; a consumer deployed
	// with it fails when CloudFormation creates the endpoint.
	endpointServiceNameKey, defaultEndpointServiceName = "endpointServiceName", "com.amazonaws.vpce.REGION.vpce-svc-PLACEHOLDER"
	// consumerAccounts lists the AWS accounts, comma-separated, that may
	// connect to the provider's endpoint service besides the provider's
	// own: -c consumerAccounts=111122223333,444455556666.
	consumerAccountsKey, defaultConsumerAccounts = "consumerAccounts", ""
)

// addStacks adds this app's stacks to app, named and configured by its
// context.
func addStacks(app awscdk.App) ([]awscdk.Stack, error) {
	image := awsecs.ContainerImage_FromRegistry(jsii.String(setting(app, imageKey, defaultImage)), nil)
	provider := NewPrivateLinkProviderStack(app, setting(app, providerStackNameKey, defaultProviderStackName), &PrivateLinkProviderStackProps{
		StackProps: awscdk.StackProps{
			Description: jsii.String("PrivateLink provider: an internal NLB (TCP) and a TLS service exposed as a VPC endpoint service"),
		},
		Image:            image,
		ConsumerAccounts: strings.Split(setting(app, consumerAccountsKey, defaultConsumerAccounts), ","),
	})
	consumer := NewPrivateLinkConsumerStack(app, setting(app, consumerStackNameKey, defaultConsumerStackName), &PrivateLinkConsumerStackProps{
		StackProps: awscdk.StackProps{
			Description: jsii.String("PrivateLink consumer: a TLS service calling the provider through an interface VPC endpoint"),
		},
		Image:               image,
		EndpointServiceName: setting(app, endpointServiceNameKey, defaultEndpointServiceName),
	})
	// The consumer takes the provider's endpoint service name from context,
	// not by reference, so nothing else orders the two. An endpoint service
	// cannot be deleted while an endpoint is connected to it, even one
	// pending acceptance ("Before you can delete an endpoint service
	// configuration, you must reject any Available or PendingAcceptance
	// interface endpoint connections", Amazon EC2 API reference,
	// DeleteVpcEndpointServiceConfigurations): with the dependency,
	// `cdk destroy PrivateLinkProvider` destroys the consumer first (cdk
	// destroy includes the stacks that depend on those named, unless
	// --exclusively), and `cdk deploy` deploys the provider first.
	consumer.AddStackDependency(provider,
		jsii.String("its interface endpoint connects to the provider's endpoint service, which cannot be deleted while connected"))
	return []awscdk.Stack{provider, consumer}, nil
}

// setting is the context value key, or def when the context has none.
func setting(app awscdk.App, key, def string) string {
	if v, ok := app.Node().TryGetContext(jsii.String(key)).(string); ok && v != "" {
		return v
	}
	return def
}
