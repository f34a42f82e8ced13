package main

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
)

// ProviderPort is the provider's listener port, which the consumer's
// endpoint listens on too.
const ProviderPort = 443

// PrivateLinkProviderStackProps configures [NewPrivateLinkProviderStack].
type PrivateLinkProviderStackProps struct {
	awscdk.StackProps
	// Image of the service's container. It must terminate TLS on port 8443.
	Image awsecs.ContainerImage
	// ConsumerAccounts are the AWS accounts that may connect to the
	// endpoint service besides the provider's own.
	ConsumerAccounts []string
}

// NewPrivateLinkProviderStack is the provider side: an internal passthrough
// NLB with one TLS service, exposed as a VPC endpoint service to the
// provider's own account and the consumer accounts. Every connection waits
// for the provider's acceptance.
func NewPrivateLinkProviderStack(scope constructs.Construct, id string, props *PrivateLinkProviderStackProps) awscdk.Stack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)
	complyStrictly(stack, nil)
	cert := certificateSecret(stack)

	cluster := passthrough.NewCluster(stack, jsii.String("Cluster"), nil)
	lb := passthrough.NewLoadBalancer(stack, jsii.String("LoadBalancer"), &passthrough.LoadBalancerProps{
		Vpc:            cluster.Vpc,
		InternetFacing: jsii.Bool(false),
	})
	service := tlsServerProps(props.Image, cert, false)
	service.Cluster = cluster
	service.LoadBalancer = lb
	service.ListenerPort = jsii.Number(ProviderPort)
	acknowledgeEnvironment(passthrough.NewFargateService(stack, jsii.String("Api"), &passthrough.FargateServiceProps{ServiceProps: service}))

	principals := []string{fmt.Sprintf("arn:%s:iam::%s:root", *awscdk.Aws_PARTITION(), *awscdk.Aws_ACCOUNT_ID())}
	for _, account := range props.ConsumerAccounts {
		if account = strings.TrimSpace(account); account != "" {
			principals = append(principals, account)
		}
	}
	passthrough.NewEndpointService(stack, jsii.String("EndpointService"), &passthrough.EndpointServiceProps{
		LoadBalancer:      lb,
		AllowedPrincipals: principals,
	})
	return stack
}
