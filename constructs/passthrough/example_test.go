package passthrough_test

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
)

// listeners prints each listener of stack's template as "PROTOCOL PORT".
func listeners(stack awscdk.Stack) {
	tpl := assertions.Template_FromStack(stack, nil)
	found := tpl.FindResources(jsii.String("AWS::ElasticLoadBalancingV2::Listener"), nil)
	for _, l := range *found {
		props := (*l)["Properties"].(map[string]any)
		fmt.Println(props["Protocol"], props["Port"])
	}
}

// A Fargate service behind a TCP listener that passes TLS through: the
// container (listening on 8443) terminates TLS, the load balancer never sees
// plaintext.
func ExampleNewFargateService() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Payments"), nil)

	cluster := passthrough.NewCluster(stack, jsii.String("Cluster"), nil)
	lb := passthrough.NewLoadBalancer(stack, jsii.String("LB"), &passthrough.LoadBalancerProps{Vpc: cluster.Vpc})
	passthrough.NewFargateService(stack, jsii.String("Api"), &passthrough.FargateServiceProps{
		ServiceProps: passthrough.ServiceProps{
			Cluster:      cluster,
			LoadBalancer: lb,
			Image:        awsecs.ContainerImage_FromRegistry(jsii.String("registry.example.com/payments-api:1.4.2"), nil),
		},
	})

	listeners(stack)
	// Output: TCP 443
}

// An EC2 service in bridge mode: each task gets a dynamic host port, and the
// instances admit the load balancer on the dynamic port range.
func ExampleNewEC2Service() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Payments"), nil)

	cluster := passthrough.NewCluster(stack, jsii.String("Cluster"), &passthrough.ClusterProps{
		EC2: &passthrough.EC2CapacityProps{InstanceType: awsec2.NewInstanceType(jsii.String("t4g.medium"))},
	})
	lb := passthrough.NewLoadBalancer(stack, jsii.String("LB"), &passthrough.LoadBalancerProps{Vpc: cluster.Vpc})
	svc := passthrough.NewEC2Service(stack, jsii.String("Api"), &passthrough.EC2ServiceProps{
		ServiceProps: passthrough.ServiceProps{
			Cluster:      cluster,
			LoadBalancer: lb,
			Image:        awsecs.ContainerImage_FromRegistry(jsii.String("registry.example.com/payments-api:1.4.2"), nil),
			ListenerPort: jsii.Number(8443),
		},
	})

	fmt.Println(svc.TaskDefinition.NetworkMode(), *svc.ListenerPort, passthrough.DynamicPortLow, passthrough.DynamicPortHigh)
	// Output: BRIDGE 8443 32768 60999
}

// One internal load balancer for several services, each on its own listener
// port; clients from the VPC only.
func ExampleNewLoadBalancer() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Internal"), nil)

	cluster := passthrough.NewCluster(stack, jsii.String("Cluster"), nil)
	lb := passthrough.NewLoadBalancer(stack, jsii.String("LB"), &passthrough.LoadBalancerProps{
		Vpc:            cluster.Vpc,
		InternetFacing: jsii.Bool(false),
	})
	image := awsecs.ContainerImage_FromRegistry(jsii.String("registry.example.com/ledger:2.0.0"), nil)
	for _, port := range []float64{443, 9443} {
		passthrough.NewFargateService(stack, jsii.String(fmt.Sprintf("Ledger%.0f", port)), &passthrough.FargateServiceProps{
			ServiceProps: passthrough.ServiceProps{Cluster: cluster, LoadBalancer: lb, Image: image, ListenerPort: jsii.Number(port)},
		})
	}

	listeners(stack)
	// Unordered output:
	// TCP 443
	// TCP 9443
}

// A cluster for Fargate services in a VPC whose tasks reach AWS only
// through VPC endpoints: no NAT gateway.
func ExampleNewCluster() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Offline"), nil)

	cluster := passthrough.NewCluster(stack, jsii.String("Cluster"), &passthrough.ClusterProps{
		NatGateways:  jsii.Number(0),
		VpcEndpoints: jsii.Bool(true),
	})

	fmt.Println(len(*cluster.Vpc.IsolatedSubnets()), len(*cluster.Vpc.PrivateSubnets()), cluster.EndpointSecurityGroup != nil)
	// Output: 2 0 true
}

// Invalid props stop synthesis with the construct path and the value.
func ExampleValidationError() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Payments"), nil)
	cluster := passthrough.NewCluster(stack, jsii.String("Cluster"), nil)
	lb := passthrough.NewLoadBalancer(stack, jsii.String("LB"), &passthrough.LoadBalancerProps{Vpc: cluster.Vpc})

	defer func() {
		fmt.Println(recover())
	}()
	passthrough.NewFargateService(stack, jsii.String("Api"), &passthrough.FargateServiceProps{
		ServiceProps: passthrough.ServiceProps{
			Cluster:      cluster,
			LoadBalancer: lb,
			Image:        awsecs.ContainerImage_FromRegistry(jsii.String("registry.example.com/payments-api:1.4.2"), nil),
			ListenerPort: jsii.Number(70000),
		},
	})
	// Output: passthrough: Payments/Api: ListenerPort 70000: must be a whole number from 1 to 65535
}
