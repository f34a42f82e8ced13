package main

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
)

// ServiceZoneName is the private hosted zone in which the internal load
// balancers are named, so that each service's certificate names a stable
// host (orders.svc.passthrough.example) rather than a generated load
// balancer DNS name. A private zone may use any name: use one of yours.
const ServiceZoneName = "svc.passthrough.example"

// ServiceToServiceStackProps configures [NewServiceToServiceStack].
type ServiceToServiceStackProps struct {
	awscdk.StackProps
	// Image of both services' containers. It must terminate TLS on port
	// 8443.
	Image awsecs.ContainerImage
	// EC2 runs both clusters on EC2 instances in bridge mode with dynamic
	// host ports instead of Fargate.
	EC2 bool
}

// NewServiceToServiceStack is two ECS clusters in one VPC, each with an
// internal passthrough NLB and one TLS service, and each service calling the
// other through the other's NLB. The only paths open are caller -> callee's
// NLB on its listener port -> callee's targets: the listeners admit the
// granted callers and no address range.
//
// Both clusters are in one stack on purpose: each service references the
// other's load balancer, and two stacks that reference each other cannot be
// deployed.
func NewServiceToServiceStack(scope constructs.Construct, id string, props *ServiceToServiceStackProps) awscdk.Stack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)
	complyStrictly(stack, nil)
	cert := certificateSecret(stack)

	var zone awsroute53.PrivateHostedZone
	services := map[string]*passthrough.Service{}
	var vpcCluster *passthrough.Cluster
	for _, name := range []string{"Orders", "Billing"} {
		clusterProps := &passthrough.ClusterProps{}
		if vpcCluster != nil {
			clusterProps.Vpc = vpcCluster.Vpc
		}
		if props.EC2 {
			clusterProps.EC2 = &passthrough.EC2CapacityProps{}
		}
		cluster := passthrough.NewCluster(stack, jsii.String(name+"Cluster"), clusterProps)
		if vpcCluster == nil {
			vpcCluster = cluster
			zone = awsroute53.NewPrivateHostedZone(stack, jsii.String("Zone"), &awsroute53.PrivateHostedZoneProps{
				ZoneName: jsii.String(ServiceZoneName),
				Vpc:      cluster.Vpc,
			})
		}
		// The listener admits no address range, not even the VPC's: only
		// the callers granted below.
		lb := passthrough.NewLoadBalancer(stack, jsii.String(name+"LoadBalancer"), &passthrough.LoadBalancerProps{
			Vpc:                  cluster.Vpc,
			InternetFacing:       jsii.Bool(false),
			PrivateListenerPorts: []float64{passthrough.DefaultListenerPort},
		})
		lb.AddPrivateDNSName(zone, strings.ToLower(name))

		service := tlsServerProps(props.Image, cert, false)
		service.Cluster = cluster
		service.LoadBalancer = lb
		if props.EC2 {
			services[name] = passthrough.NewEC2Service(stack, jsii.String(name), &passthrough.EC2ServiceProps{ServiceProps: service})
		} else {
			services[name] = passthrough.NewFargateService(stack, jsii.String(name), &passthrough.FargateServiceProps{ServiceProps: service})
		}
	}
	orders, billing := services["Orders"], services["Billing"]
	// Each caller finds the callee's HOST:PORT in the environment variable
	// named here.
	billing.GrantConnect(orders, "BILLING_ADDRESS")
	orders.GrantConnect(billing, "ORDERS_ADDRESS")
	acknowledgeAddressEnvironment(orders, "BILLING_ADDRESS")
	acknowledgeAddressEnvironment(billing, "ORDERS_ADDRESS")
	return stack
}
