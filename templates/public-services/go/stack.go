package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
)

// PublicServicesStackProps configures [NewPublicServicesStack].
type PublicServicesStackProps struct {
	awscdk.StackProps
	// Image of every service's container. It must terminate TLS on port
	// 8443, and be built for both X86_64 and ARM64: Partners and Admin run
	// on Graviton, and so does every service on EC2.
	Image awsecs.ContainerImage
	// EC2 runs the services on Graviton EC2 instances in bridge mode with
	// dynamic host ports, in subnets without internet access, instead of on
	// Fargate.
	EC2 bool
}

// publicService is one of the three services, each on its own listener
// port of the shared load balancer. On Fargate each shows a production
// option: auto scaling (Api), mutual TLS on Graviton (Partners) and Fargate
// Spot on Graviton above an on-demand base (Admin). Admin also takes PROXY
// protocol v2, on Fargate and EC2, so that its logs can carry the client's
// address: its image must then read the PROXY header before the TLS
// handshake. Rename, add or remove services here.
type publicService struct {
	id            string
	listenerPort  float64
	mutualTLS     bool
	autoScaling   bool
	arm64         bool
	spot          bool
	proxyProtocol bool
}

var publicServices = []publicService{
	{id: "Api", listenerPort: 443, autoScaling: true},
	{id: "Partners", listenerPort: 8443, mutualTLS: true, arm64: true},
	{id: "Admin", listenerPort: 9443, arm64: true, spot: true, proxyProtocol: true},
}

// NewPublicServicesStack is clients on the internet -> one internet-facing
// NLB with a TCP listener per service -> three TLS services in one ECS
// cluster, each terminating TLS in its container.
func NewPublicServicesStack(scope constructs.Construct, id string, props *PublicServicesStackProps) awscdk.Stack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)
	ops := opsTopic(stack)
	complyStrictly(stack, ops)

	// Fargate tasks reach AWS through VPC endpoints and keep one NAT gateway
	// for anything else, in a dual-stack VPC whose load balancer also serves
	// IPv6 clients; the EC2 instances have no internet access at all.
	clusterProps := &passthrough.ClusterProps{VpcEndpoints: jsii.Bool(true), DualStack: jsii.Bool(!props.EC2)}
	if props.EC2 {
		clusterProps.NatGateways = jsii.Number(0)
		clusterProps.EC2 = &passthrough.EC2CapacityProps{
			// Graviton, 2 vCPUs and 4 GiB, and the same with local storage
			// when no c7g.large can be launched: Control Tower asks for two
			// types, each a Nitro type that encrypts the traffic between
			// instances (not the burstable t4g).
			InstanceType:          awsec2.NewInstanceType(jsii.String("c7g.large")),
			FallbackInstanceTypes: []awsec2.InstanceType{awsec2.NewInstanceType(jsii.String("c7gd.large"))},
			NotificationTopic:     ops,
		}
	}
	cluster := passthrough.NewCluster(stack, jsii.String("Cluster"), clusterProps)
	lb := passthrough.NewLoadBalancer(stack, jsii.String("LoadBalancer"), &passthrough.LoadBalancerProps{
		Vpc:       cluster.Vpc,
		DualStack: jsii.Bool(!props.EC2),
		Alarms:    &passthrough.AlarmProps{Topic: ops},
	})

	cert := certificateSecret(stack)
	for _, svc := range publicServices {
		service := tlsServerProps(props.Image, cert, svc.mutualTLS)
		service.Cluster = cluster
		service.LoadBalancer = lb
		service.ListenerPort = jsii.Number(svc.listenerPort)
		service.Alarms = &passthrough.AlarmProps{Topic: ops}
		// A new value of the certificate secret (aws secretsmanager
		// put-secret-value, or a rotation) rolls each service out by
		// itself: an EventBridge rule on the secret's AWSCURRENT label
		// starts a Step Functions state machine that forces a new
		// deployment of the service, and the deployment's completion
		// reaches the ops topic. It needs the secret in this stack's
		// account and Region, where Secrets Manager sends its events; for
		// a secret elsewhere, drop this line and run
		// aws ecs update-service --force-new-deployment after each put.
		service.Certificate.RollOut = jsii.Bool(true)
		if svc.autoScaling {
			service.AutoScaling = &passthrough.AutoScalingProps{MaxCapacity: jsii.Number(6)}
		}
		var settings []string
		if svc.proxyProtocol {
			// The target group sends the header; the server must expect it.
			service.ProxyProtocol = jsii.Bool(true)
			service.Environment["PROXY_PROTOCOL"] = jsii.String("v2")
			// The load balancer's nodes connect from their addresses in the
			// VPC's IPv4 range, to IPv4 targets even when the NLB is dual
			// stack: it reaches targets with the target group's address
			// type (https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-ip-address-type.html).
			// The server should refuse a PROXY header from any other peer.
			service.Environment["PROXY_TRUSTED_CIDRS"] = cluster.Vpc.VpcCidrBlock()
			settings = append(settings, "PROXY_PROTOCOL", "PROXY_TRUSTED_CIDRS")
		}
		var s *passthrough.Service
		if props.EC2 {
			s = passthrough.NewEC2Service(stack, jsii.String(svc.id), &passthrough.EC2ServiceProps{ServiceProps: service})
		} else {
			s = passthrough.NewFargateService(stack, jsii.String(svc.id), &passthrough.FargateServiceProps{
				ServiceProps: service,
				ARM64:        jsii.Bool(svc.arm64),
				Spot:         jsii.Bool(svc.spot),
			})
		}
		acknowledgeEnvironment(s, settings...)
	}
	return stack
}
