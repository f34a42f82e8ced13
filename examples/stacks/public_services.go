package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
)

// PublicServicesStackProps configures [NewPublicServicesStack].
type PublicServicesStackProps struct {
	awscdk.StackProps
	// Workload of the TLS services. Required.
	Workload Workload
	// EC2 runs the services on EC2 instances in bridge mode with dynamic
	// host ports instead of Fargate.
	EC2 bool
}

// publicServices are the three services of architecture 1, each on its own
// listener port of the shared load balancer.
// Partners asks its clients for a certificate (mutual TLS).
var publicServices = []struct {
	id           string
	listenerPort float64
	mutualTLS    bool
}{
	{"Api", 443, false},
	{"Partners", 8443, true},
	{"Admin", 9443, false},
}

// NewPublicServicesStack is architecture 1 of the design: clients on the
// internet -> one internet-facing NLB with a TCP listener per service -> three
// TLS services in one ECS cluster, each terminating TLS in its container.
func NewPublicServicesStack(scope constructs.Construct, id string, props *PublicServicesStackProps) awscdk.Stack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)

	clusterProps := &passthrough.ClusterProps{}
	if props.EC2 {
		clusterProps.EC2 = &passthrough.EC2CapacityProps{}
	}
	cluster := passthrough.NewCluster(stack, jsii.String("Cluster"), clusterProps)
	lb := passthrough.NewLoadBalancer(stack, jsii.String("LoadBalancer"), &passthrough.LoadBalancerProps{
		Vpc: cluster.Vpc,
	})

	cert := certificateSecret(stack)
	for _, svc := range publicServices {
		service := tlsServerProps(svc.id, props.Workload, cert, svc.mutualTLS)
		service.Cluster = cluster
		service.LoadBalancer = lb
		service.ListenerPort = jsii.Number(svc.listenerPort)
		var s *passthrough.Service
		if props.EC2 {
			s = passthrough.NewEC2Service(stack, jsii.String(svc.id), &passthrough.EC2ServiceProps{ServiceProps: service})
		} else {
			s = passthrough.NewFargateService(stack, jsii.String(svc.id), &passthrough.FargateServiceProps{ServiceProps: service})
		}
		acknowledgePlainEnvironment(s)
	}
	return stack
}
