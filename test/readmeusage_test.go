// Code generated from README.md's Usage section by `go test ./test -update`. DO NOT EDIT.

package test

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
)

// readmeUsageApp is the README's main, returning its app.
func readmeUsageApp(strict bool) awscdk.App {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Payments"), nil)

	cluster := passthrough.NewCluster(stack, jsii.String("Cluster"), nil) // Fargate, new VPC
	lb := passthrough.NewLoadBalancer(stack, jsii.String("LB"), &passthrough.LoadBalancerProps{Vpc: cluster.Vpc})
	passthrough.NewFargateService(stack, jsii.String("Api"), &passthrough.FargateServiceProps{
		ServiceProps: passthrough.ServiceProps{
			Cluster:      cluster,
			LoadBalancer: lb,
			Image:        awsecs.ContainerImage_FromRegistry(jsii.String("registry.example.com/payments-api:1.4.2"), nil),
			// The container listens for TLS on 8443; clients connect to 443.
		},
	})
	// For AWS Control Tower's proactive controls: KMS-encrypted logs kept a
	// year, alarm actions, deletion protection (see Compliance).
	if strict {
		awscdk.Aspects_Of(stack).Add(passthrough.NewStrictCompliance(nil), nil)
	}
	app.Synth(nil)
	return app
}
