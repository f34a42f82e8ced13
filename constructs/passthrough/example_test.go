package passthrough_test

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
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
	// Output: BRIDGE 8443 30000 32767
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

// Service to service: Orders calls Billing through Billing's internal load
// balancer, at a stable private name its certificate can carry. The grant
// adds exactly the two security group rules of that path and gives Orders'
// container the address.
func ExampleService_GrantConnect() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Shop"), nil)
	cluster := passthrough.NewCluster(stack, jsii.String("Cluster"), nil)
	zone := awsroute53.NewPrivateHostedZone(stack, jsii.String("Zone"), &awsroute53.PrivateHostedZoneProps{
		ZoneName: jsii.String("svc.shop.example"),
		Vpc:      cluster.Vpc,
	})
	image := awsecs.ContainerImage_FromRegistry(jsii.String("registry.example.com/shop:3.1.0"), nil)

	billingLB := passthrough.NewLoadBalancer(stack, jsii.String("BillingLB"), &passthrough.LoadBalancerProps{
		Vpc:                  cluster.Vpc,
		InternetFacing:       jsii.Bool(false),
		PrivateListenerPorts: []float64{443},
	})
	billingLB.AddPrivateDNSName(zone, "billing")
	billing := passthrough.NewFargateService(stack, jsii.String("Billing"), &passthrough.FargateServiceProps{
		ServiceProps: passthrough.ServiceProps{Cluster: cluster, LoadBalancer: billingLB, Image: image},
	})
	ordersLB := passthrough.NewLoadBalancer(stack, jsii.String("OrdersLB"), &passthrough.LoadBalancerProps{Vpc: cluster.Vpc})
	orders := passthrough.NewFargateService(stack, jsii.String("Orders"), &passthrough.FargateServiceProps{
		ServiceProps: passthrough.ServiceProps{Cluster: cluster, LoadBalancer: ordersLB, Image: image},
	})

	billing.GrantConnect(orders, "BILLING_ADDRESS")

	env := (*assertions.Template_FromStack(stack, nil).FindResources(jsii.String("AWS::ECS::TaskDefinition"), nil))
	for id, td := range env {
		if strings.HasPrefix(id, "Orders") {
			container := (*td)["Properties"].(map[string]any)["ContainerDefinitions"].([]any)[0].(map[string]any)
			for _, e := range container["Environment"].([]any) {
				if e.(map[string]any)["Name"] == "BILLING_ADDRESS" {
					fmt.Println(e.(map[string]any)["Value"])
				}
			}
		}
	}
	// Output: billing.svc.shop.example:443
}

// A service offered to other accounts' VPCs through PrivateLink; every
// consumer's connection waits for the provider's acceptance.
func ExampleNewEndpointService() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Provider"), nil)
	cluster := passthrough.NewCluster(stack, jsii.String("Cluster"), nil)
	lb := passthrough.NewLoadBalancer(stack, jsii.String("LB"), &passthrough.LoadBalancerProps{
		Vpc: cluster.Vpc, InternetFacing: jsii.Bool(false),
	})
	passthrough.NewFargateService(stack, jsii.String("Api"), &passthrough.FargateServiceProps{
		ServiceProps: passthrough.ServiceProps{
			Cluster: cluster, LoadBalancer: lb,
			Image: awsecs.ContainerImage_FromRegistry(jsii.String("registry.example.com/api:1.0.0"), nil),
		},
	})
	passthrough.NewEndpointService(stack, jsii.String("EndpointService"), &passthrough.EndpointServiceProps{
		LoadBalancer:      lb,
		AllowedPrincipals: []string{"111122223333"},
	})

	tpl := assertions.Template_FromStack(stack, nil)
	for _, svc := range *tpl.FindResources(jsii.String("AWS::EC2::VPCEndpointService"), nil) {
		fmt.Println("acceptance required:", (*svc)["Properties"].(map[string]any)["AcceptanceRequired"])
	}
	// Output: acceptance required: true
}

// A service of this app on a load balancer that another app owns.
func ExampleImportLoadBalancer() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Team"), nil)
	cluster := passthrough.NewCluster(stack, jsii.String("Cluster"), nil)
	lb := passthrough.ImportLoadBalancer(stack, jsii.String("Shared"), &passthrough.LoadBalancerAttributes{
		LoadBalancerARN:    jsii.String("arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/net/shared/0123456789abcdef"),
		SecurityGroupID:    jsii.String("sg-0123456789abcdef0"),
		Vpc:                cluster.Vpc,
		AllowedClients:     []awsec2.IPeer{awsec2.Peer_Ipv4(jsii.String("10.0.0.0/8"))},
		ListenerPortsInUse: []float64{443},
	})
	passthrough.NewFargateService(stack, jsii.String("Reports"), &passthrough.FargateServiceProps{
		ServiceProps: passthrough.ServiceProps{
			Cluster: cluster, LoadBalancer: lb, ListenerPort: jsii.Number(8443),
			Image: awsecs.ContainerImage_FromRegistry(jsii.String("registry.example.com/reports:2.0.0"), nil),
		},
	})

	listeners(stack)
	// Output: TCP 8443
}
