package passthrough

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

func newVpc(scope constructs.Construct, natGateways float64, dualStack bool) awsec2.Vpc {
	private := awsec2.SubnetType_PRIVATE_WITH_EGRESS
	if natGateways == 0 {
		private = awsec2.SubnetType_PRIVATE_ISOLATED
	}
	protocol := awsec2.IpProtocol_IPV4_ONLY
	if dualStack {
		protocol = awsec2.IpProtocol_DUAL_STACK
	}
	vpc := awsec2.NewVpc(scope, jsii.String("Vpc"), &awsec2.VpcProps{
		IpProtocol:  protocol,
		MaxAzs:      jsii.Number(2),
		NatGateways: jsii.Number(natGateways),
		// Emptied by a custom resource, whatever the app's feature flags
		// (aws-cdk-lib's default follows @aws-cdk/aws-ec2:restrictDefaultSecurityGroup,
		// unset in a new app's cdk.json): nothing should use the default
		// group, and an open one lets everything in it reach everything else
		// in it (Security Hub EC2.2).
		RestrictDefaultSecurityGroup: jsii.Bool(true),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{
			// Nothing in the public subnets needs an address of its own: the
			// load balancer and the NAT gateway bring theirs.
			{Name: jsii.String("Public"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(24), MapPublicIpOnLaunch: jsii.Bool(false)},
			{Name: jsii.String("Private"), SubnetType: private, CidrMask: jsii.Number(22)},
		},
		FlowLogs: &map[string]*awsec2.FlowLogOptions{
			"FlowLog": {TrafficType: awsec2.FlowLogTrafficType_ALL},
		},
	})
	suppressDefaultSecurityGroupProvider(vpc)
	return vpc
}

// addVpcEndpoints lets tasks reach what they need without the internet:
// image layers from S3, images from ECR, their secrets and their logs, and
// on EC2 the ECS endpoints of the container agent. The interface endpoints
// share one security group, which admits only the groups of the cluster's
// instances and services (aws-cdk-lib's default would admit the whole VPC).
func addVpcEndpoints(scope constructs.Construct, vpc awsec2.Vpc, ec2 bool) (awsec2.SecurityGroup, []constructs.IDependable) {
	sg := awsec2.NewSecurityGroup(scope, jsii.String("EndpointSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:              vpc,
		Description:      jsii.String("VPC interface endpoints: HTTPS from the cluster tasks and instances only"),
		AllowAllOutbound: jsii.Bool(false),
	})
	keepEgressClosed(sg)
	private := &awsec2.SubnetSelection{SubnetGroupName: jsii.String("Private")}
	endpoints := []constructs.IDependable{vpc.AddGatewayEndpoint(jsii.String("S3"), &awsec2.GatewayVpcEndpointOptions{
		Service: awsec2.GatewayVpcEndpointAwsService_S3(),
		Subnets: &[]*awsec2.SubnetSelection{private},
	})}
	services := map[string]awsec2.InterfaceVpcEndpointAwsService{
		"EcrApi":         awsec2.InterfaceVpcEndpointAwsService_ECR(),
		"EcrDocker":      awsec2.InterfaceVpcEndpointAwsService_ECR_DOCKER(),
		"Logs":           awsec2.InterfaceVpcEndpointAwsService_CLOUDWATCH_LOGS(),
		"SecretsManager": awsec2.InterfaceVpcEndpointAwsService_SECRETS_MANAGER(),
	}
	if ec2 {
		services["Ecs"] = awsec2.InterfaceVpcEndpointAwsService_ECS()
		services["EcsAgent"] = awsec2.InterfaceVpcEndpointAwsService_ECS_AGENT()
		services["EcsTelemetry"] = awsec2.InterfaceVpcEndpointAwsService_ECS_TELEMETRY()
	}
	for _, id := range sortedKeys(services) {
		endpoints = append(endpoints, vpc.AddInterfaceEndpoint(jsii.String(id), &awsec2.InterfaceVpcEndpointOptions{
			Service:           services[id],
			Subnets:           private,
			PrivateDnsEnabled: jsii.Bool(true),
			Open:              jsii.Bool(false),
			SecurityGroups:    &[]awsec2.ISecurityGroup{sg},
		}))
	}
	return sg, endpoints
}

// allowEndpoints lets a group of the cluster's tasks or instances reach the
// VPC interface endpoints, if the cluster has them.
func (c *Cluster) allowEndpoints(from awsec2.ISecurityGroup) {
	if c.EndpointSecurityGroup != nil {
		c.EndpointSecurityGroup.Connections().AllowFrom(from, tcpPort(443), jsii.String("HTTPS to AWS through the VPC endpoints"))
	}
}
