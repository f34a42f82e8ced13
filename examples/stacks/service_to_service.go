package stacks

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
)

// ServiceZoneName is the private hosted zone in which the service-to-service
// examples name their internal load balancers, so that each service's
// certificate names a stable host (orders.svc.passthrough.example) rather
// than a generated load balancer DNS name. ".example" is reserved for
// examples (RFC 2606); a private zone may use any name.
const ServiceZoneName = "svc.passthrough.example"

// ServiceToServiceStackProps configures [NewServiceToServiceStack].
type ServiceToServiceStackProps struct {
	awscdk.StackProps
	// Workload of the TLS services. Required.
	Workload Workload
	// EC2 runs both clusters on EC2 instances in bridge mode with dynamic
	// host ports instead of Fargate.
	EC2 bool
}

// NewServiceToServiceStack is architecture 2 of the design: two ECS clusters
// in one VPC, each with an internal passthrough NLB and one TLS service, and
// each service calling the other through the other's NLB. The only paths
// open are caller -> callee's NLB on its listener port -> callee's targets:
// the listeners admit the granted callers and no address range.
//
// Both clusters are in one stack on purpose: each service references the
// other's load balancer, and two stacks that reference each other cannot be
// deployed. docs/architectures.md shows how to split them.
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

		service := tlsServerProps(props.Workload, cert, false)
		service.Cluster = cluster
		service.LoadBalancer = lb
		if props.EC2 {
			services[name] = passthrough.NewEC2Service(stack, jsii.String(name), &passthrough.EC2ServiceProps{ServiceProps: service})
		} else {
			services[name] = passthrough.NewFargateService(stack, jsii.String(name), &passthrough.FargateServiceProps{ServiceProps: service})
		}
	}
	orders, billing := services["Orders"], services["Billing"]
	billing.GrantConnect(orders, "BILLING_ADDRESS")
	orders.GrantConnect(billing, "ORDERS_ADDRESS")
	acknowledgeAddressEnvironment(orders, "BILLING_ADDRESS")
	acknowledgeAddressEnvironment(billing, "ORDERS_ADDRESS")
	return stack
}

// acknowledgeAddressEnvironment records for cdk-nag (rule AwsSolutions-ECS2)
// why the task definition of a service that calls another one has plain
// environment variables: its name, its shutdown budget and the HOST:PORT of
// the services it calls, which GrantConnect writes; nothing secret.
func acknowledgeAddressEnvironment(s *passthrough.Service, addresses ...string) {
	suppressPlainEnvironment(s, "Plain environment holds only SERVICE_NAME, SHUTDOWN_TIMEOUT_SECONDS, STOP_TIMEOUT_SECONDS and the HOST:PORT of the services it calls ("+
		strings.Join(addresses, ", ")+"); certificate and key arrive as ECS secrets from Secrets Manager")
}
