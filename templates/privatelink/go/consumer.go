package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53targets"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
)

// Names by which the consumer reaches the provider.
const (
	// ProviderZoneName is the consumer's private hosted zone that names the
	// provider's service; the provider's certificate names
	// api.provider.passthrough.example. A private zone may use any name:
	// use one of yours.
	ProviderZoneName = "provider.passthrough.example"
	// ProviderRecordName is the record, in ProviderZoneName, that aliases
	// the consumer's endpoint.
	ProviderRecordName = "api"
)

// PrivateLinkConsumerStackProps configures [NewPrivateLinkConsumerStack].
type PrivateLinkConsumerStackProps struct {
	awscdk.StackProps
	// Image of the Client service's container. It must terminate TLS on
	// port 8443.
	Image awsecs.ContainerImage
	// EndpointServiceName is the provider's endpoint service, the value of
	// the provider stack's output EndpointServiceName....
	EndpointServiceName string
}

// NewPrivateLinkConsumerStack is the consumer side, in a VPC of its own
// whose range is the provider's: a TLS service (the Client) on an internal
// NLB of its own, and an interface VPC endpoint to the provider's endpoint
// service. The endpoint's security group admits the Client's tasks on the
// provider's port and nothing else, and a private hosted zone names the
// endpoint api.provider.passthrough.example, the name the Client finds in
// PROVIDER_ADDRESS and the provider's certificate carries.
func NewPrivateLinkConsumerStack(scope constructs.Construct, id string, props *PrivateLinkConsumerStackProps) awscdk.Stack {
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
	client := passthrough.NewFargateService(stack, jsii.String("Client"), &passthrough.FargateServiceProps{ServiceProps: service})

	endpointGroup := awsec2.NewSecurityGroup(stack, jsii.String("EndpointSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:              cluster.Vpc,
		Description:      jsii.String(fmt.Sprintf("Interface endpoint to the provider: Client tasks on port %d only", ProviderPort)),
		AllowAllOutbound: jsii.Bool(false),
	})
	endpoint := awsec2.NewInterfaceVpcEndpoint(stack, jsii.String("ProviderEndpoint"), &awsec2.InterfaceVpcEndpointProps{
		Vpc:     cluster.Vpc,
		Service: awsec2.NewInterfaceVpcEndpointService(jsii.String(props.EndpointServiceName), jsii.Number(ProviderPort)),
		// The endpoint's own default would admit the whole VPC.
		Open:           jsii.Bool(false),
		SecurityGroups: &[]awsec2.ISecurityGroup{endpointGroup},
		Subnets:        &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS},
	})
	client.Connections().AllowTo(endpoint, awsec2.Port_Tcp(jsii.Number(ProviderPort)), jsii.String("Passthrough Client to the provider's endpoint"))

	zone := awsroute53.NewPrivateHostedZone(stack, jsii.String("ProviderZone"), &awsroute53.PrivateHostedZoneProps{
		ZoneName: jsii.String(ProviderZoneName),
		Vpc:      cluster.Vpc,
	})
	record := awsroute53.NewARecord(stack, jsii.String("ProviderRecord"), &awsroute53.ARecordProps{
		Zone:       zone,
		RecordName: jsii.String(ProviderRecordName),
		Target:     awsroute53.RecordTarget_FromAlias(awsroute53targets.NewInterfaceVpcEndpointTarget(endpoint)),
	})
	client.Container.AddEnvironment(jsii.String("PROVIDER_ADDRESS"), jsii.String(fmt.Sprintf("%s.%s:%d", ProviderRecordName, ProviderZoneName, ProviderPort)))
	client.Service.Node().AddDependency(record)
	acknowledgeAddressEnvironment(client, "PROVIDER_ADDRESS")

	awscdk.NewCfnOutput(stack, jsii.String("ProviderEndpointDNSName"), &awscdk.CfnOutputProps{
		Description: jsii.String("Regional DNS name of the interface endpoint to the provider's endpoint service"),
		Value:       awscdk.Fn_Select(jsii.Number(1), awscdk.Fn_Split(jsii.String(":"), awscdk.Fn_Select(jsii.Number(0), endpoint.VpcEndpointDnsEntries()), nil)),
	})
	return stack
}
