package passthrough_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
	"github.com/passthrough-cdk/passthrough/internal/cdktest"
)

func TestVpcWithoutNATUsesEndpointsAndIsolatedSubnets(t *testing.T) {
	stack := cdktest.NewStack(t)
	cluster := passthrough.NewCluster(stack, jsii.String("Cluster"), &passthrough.ClusterProps{
		NatGateways:  jsii.Number(0),
		VpcEndpoints: jsii.Bool(true),
		EC2:          &passthrough.EC2CapacityProps{},
	})
	lb := passthrough.NewLoadBalancer(stack, jsii.String("LB"), &passthrough.LoadBalancerProps{Vpc: cluster.Vpc})
	passthrough.NewEC2Service(stack, jsii.String("Api"), &passthrough.EC2ServiceProps{ServiceProps: passthrough.ServiceProps{
		Cluster: cluster, LoadBalancer: lb, Image: awsecsImage(),
	}})
	tpl := cdktest.TemplateOf(t, stack)
	tpl.Count("AWS::EC2::NatGateway", 0)
	tpl.Count("AWS::EC2::VPCEndpoint", 8)
	names := map[string]bool{}
	for _, e := range tpl.Resources("AWS::EC2::VPCEndpoint") {
		if e["VpcEndpointType"] == "Interface" && e["PrivateDnsEnabled"] == true {
			names[jsonString(e["ServiceName"])] = true
		}
	}
	for _, service := range []string{"ecr.api", "ecr.dkr", "logs", "secretsmanager", "ecs", "ecs-agent", "ecs-telemetry"} {
		found := false
		for n := range names {
			found = found || strings.HasSuffix(n, `"."},"`+service+`"]]}`) || strings.Contains(n, `".`+service+`"]`)
		}
		if !found {
			t.Errorf("no private-DNS interface endpoint for %s among %v", service, names)
		}
	}
	tpl.Has("AWS::EC2::VPCEndpoint", map[string]any{"VpcEndpointType": "Gateway"})
	tpl.Has("AWS::EC2::Subnet", map[string]any{
		"Tags": assertions.Match_ArrayWith(&[]any{map[string]any{"Key": "aws-cdk:subnet-type", "Value": "Isolated"}}),
	})
}

// A dual-stack cluster VPC carries a dual-stack load balancer: IPv6 clients
// are admitted on the listener port, in their own rule.
func TestDualStackClusterAndLoadBalancer(t *testing.T) {
	stack := cdktest.NewStack(t)
	cluster := passthrough.NewCluster(stack, jsii.String("Cluster"), &passthrough.ClusterProps{DualStack: jsii.Bool(true)})
	lb := passthrough.NewLoadBalancer(stack, jsii.String("LB"), &passthrough.LoadBalancerProps{Vpc: cluster.Vpc, DualStack: jsii.Bool(true)})
	passthrough.NewFargateService(stack, jsii.String("Api"), &passthrough.FargateServiceProps{ServiceProps: passthrough.ServiceProps{
		Cluster: cluster, LoadBalancer: lb, Image: awsecsImage(),
	}})
	tpl := cdktest.TemplateOf(t, stack)
	tpl.Has("AWS::EC2::VPCCidrBlock", map[string]any{"AmazonProvidedIpv6CidrBlock": true})
	tpl.Count("AWS::EC2::EgressOnlyInternetGateway", 1)
	tpl.Has(typeLoadBalancer, map[string]any{"IpAddressType": "dualstack"})
	tpl.Has(typeSecurityGroup, map[string]any{
		"GroupDescription": assertions.Match_StringLikeRegexp(jsii.String("^Passthrough NLB")),
		"SecurityGroupIngress": assertions.Match_ArrayWith(&[]any{
			assertions.Match_ObjectLike(&map[string]any{"CidrIp": "0.0.0.0/0", "FromPort": 443, "ToPort": 443}),
			assertions.Match_ObjectLike(&map[string]any{"CidrIpv6": "::/0", "FromPort": 443, "ToPort": 443}),
		}),
	})
}
