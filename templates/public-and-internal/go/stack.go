package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
)

// Names and ports of the stack.
const (
	// InternalZoneName is the private hosted zone in which the shared load
	// balancer's private addresses are published. A private zone may use
	// any name: use one of yours.
	InternalZoneName = "internal.passthrough.example"
	// InternalRecordName is the record, in InternalZoneName, that Public's
	// containers reach the Internal service by; the Internal service's
	// certificate names it (lb.internal.passthrough.example).
	InternalRecordName = "lb"
	// PublicListenerPort is open to the internet.
	PublicListenerPort = 443
	// InternalListenerPort is open to Public's tasks only.
	InternalListenerPort = 8443
	// PublicTestListenerPort is the test listener of Public's blue/green
	// deployments, open to its TLS verification hook only.
	PublicTestListenerPort = 9443
)

// PublicAndInternalStackProps configures [NewPublicAndInternalStack].
type PublicAndInternalStackProps struct {
	awscdk.StackProps
	// Image of both services' containers. It must terminate TLS on port
	// 8443.
	Image awsecs.ContainerImage
}

// NewPublicAndInternalStack is one internet-facing NLB with two TCP
// listeners and two target groups. Public (port 443) is reachable from the
// internet; Internal (port 8443) is called by Public's containers only,
// through the same NLB but at its private addresses, which a custom
// resource publishes in a private hosted zone. The internal listener port is
// not open to the internet: the NLB's security group admits Public's task
// security group on it and nothing else. Public deploys blue/green, with a
// test listener that admits its TLS verification hook only.
func NewPublicAndInternalStack(scope constructs.Construct, id string, props *PublicAndInternalStackProps) awscdk.Stack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)
	complyStrictly(stack, nil)
	cert := certificateSecret(stack)

	cluster := passthrough.NewCluster(stack, jsii.String("Cluster"), nil)
	lb := passthrough.NewLoadBalancer(stack, jsii.String("LoadBalancer"), &passthrough.LoadBalancerProps{
		Vpc:                  cluster.Vpc,
		PrivateListenerPorts: []float64{InternalListenerPort},
	})
	zone := awsroute53.NewPrivateHostedZone(stack, jsii.String("Zone"), &awsroute53.PrivateHostedZoneProps{
		ZoneName: jsii.String(InternalZoneName),
		Vpc:      cluster.Vpc,
	})
	lb.AddPrivateDNSName(zone, InternalRecordName)

	newService := func(name string, port float64, blueGreen *passthrough.BlueGreenProps) *passthrough.Service {
		service := tlsServerProps(props.Image, cert, false)
		service.Cluster = cluster
		service.LoadBalancer = lb
		service.ListenerPort = jsii.Number(port)
		if blueGreen != nil {
			service.DeploymentStrategy = awsecs.DeploymentStrategy_BLUE_GREEN
			service.BlueGreen = blueGreen
		}
		return passthrough.NewFargateService(stack, jsii.String(name), &passthrough.FargateServiceProps{ServiceProps: service})
	}
	// Public deploys blue/green: its new tasks get test traffic first, and
	// a hook inside the VPC (a Lambda function that Passthrough builds from
	// Go source while the app synthesizes) checks, at the load balancer's
	// private name, that they serve a certificate valid for that name and
	// not about to expire before production traffic moves to them. A
	// deployment takes about half an hour instead of five minutes; to
	// deploy Public rolling instead, pass nil here.
	public := newService("Public", PublicListenerPort, &passthrough.BlueGreenProps{
		TestListenerPort: jsii.Number(PublicTestListenerPort),
		ServerNames:      []string{InternalRecordName + "." + InternalZoneName},
	})
	internal := newService("Internal", InternalListenerPort, nil)
	// Public's containers find Internal's HOST:PORT in INTERNAL_ADDRESS.
	internal.GrantConnect(public, "INTERNAL_ADDRESS")
	acknowledgeAddressEnvironment(public, "INTERNAL_ADDRESS")
	acknowledgeEnvironment(internal)
	return stack
}
