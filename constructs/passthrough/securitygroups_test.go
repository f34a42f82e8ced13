package passthrough_test

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
	"github.com/passthrough-cdk/passthrough/internal/cdktest"
)

// noEgress is the inline rule that keeps EC2's default allow-all egress rule
// off a security group whose egress rules are all separate resources.
var noEgress = map[string]any{
	"CidrIp":      "255.255.255.255/32",
	"Description": "No egress but the rules declared for this group",
	"FromPort":    252,
	"IpProtocol":  "icmp",
	"ToPort":      0,
}

func tcpRule(cidr string, from, to float64) map[string]any {
	return map[string]any{
		"CidrIp":      cidr,
		"IpProtocol":  "tcp",
		"FromPort":    from,
		"ToPort":      to,
		"Description": assertions.Match_AnyValue(),
	}
}

func TestFargateSecurityGroupsAdmitTheListenerPathAndNothingElse(t *testing.T) {
	f := newFixture(t, false)
	api := f.fargate("Api", 443)
	tpl := f.template(t)
	lbSG := logicalID(t, f.stack, f.lb.SecurityGroup)
	taskSG := logicalID(t, f.stack, api.SecurityGroup)

	// Clients reach the load balancer on the listener port only, and it
	// sends nothing anywhere but to the tasks.
	tpl.Has(typeSecurityGroup, map[string]any{
		"GroupDescription":     assertions.Match_StringLikeRegexp(jsii.String("^Passthrough NLB")),
		"SecurityGroupIngress": []any{tcpRule("0.0.0.0/0", 443, 443)},
		"SecurityGroupEgress":  []any{noEgress},
	})
	// Tasks accept nothing inline and send HTTPS only.
	tpl.Has(typeSecurityGroup, map[string]any{
		"GroupDescription":     assertions.Match_StringLikeRegexp(jsii.String("^Passthrough Fargate tasks")),
		"SecurityGroupIngress": assertions.Match_Absent(),
		"SecurityGroupEgress":  []any{tcpRule("0.0.0.0/0", 443, 443)},
	})
	// The one path between them: load balancer -> tasks on the container
	// port; besides it, only the load balancer's path MTU discovery rule.
	tpl.Count(typeIngress, 2)
	tpl.Has(typeIngress, pathMTURule(lbSG))
	tpl.Has(typeIngress, map[string]any{
		"GroupId":               getAtt(taskSG, "GroupId"),
		"SourceSecurityGroupId": getAtt(lbSG, "GroupId"),
		"IpProtocol":            "tcp",
		"FromPort":              8443,
		"ToPort":                8443,
	})
	tpl.Count(typeEgress, 1)
	tpl.Has(typeEgress, map[string]any{
		"GroupId":                    getAtt(lbSG, "GroupId"),
		"DestinationSecurityGroupId": getAtt(taskSG, "GroupId"),
		"IpProtocol":                 "tcp",
		"FromPort":                   8443,
		"ToPort":                     8443,
	})
	tpl.Has(typeLoadBalancer, map[string]any{
		"Type":           "network",
		"Scheme":         "internet-facing",
		"SecurityGroups": []any{getAtt(lbSG, "GroupId")},
		"LoadBalancerAttributes": assertions.Match_ArrayWith(&[]any{
			map[string]any{"Key": "deletion_protection.enabled", "Value": "false"},
			map[string]any{"Key": "load_balancing.cross_zone.enabled", "Value": "true"},
		}),
	})
}

func TestEC2SecurityGroupsOpenTheDynamicPortRangeFromTheLoadBalancerOnly(t *testing.T) {
	f := newFixture(t, true)
	f.ec2("Api", 443)
	f.ec2("Admin", 9443)
	tpl := f.template(t)
	lbSG := logicalID(t, f.stack, f.lb.SecurityGroup)
	instanceSG := logicalID(t, f.stack, f.cluster.InstanceSecurityGroup)

	tpl.Has(typeSecurityGroup, map[string]any{
		"GroupDescription":     assertions.Match_StringLikeRegexp(jsii.String("^Passthrough NLB")),
		"SecurityGroupIngress": []any{tcpRule("0.0.0.0/0", 443, 443), tcpRule("0.0.0.0/0", 9443, 9443)},
		"SecurityGroupEgress":  []any{noEgress},
	})
	tpl.Has(typeSecurityGroup, map[string]any{
		"GroupDescription":     assertions.Match_StringLikeRegexp(jsii.String("^ECS container instances")),
		"SecurityGroupIngress": assertions.Match_Absent(),
		"SecurityGroupEgress":  []any{tcpRule("0.0.0.0/0", 443, 443)},
	})
	// Both services share the instances, so one rule serves both; besides
	// it, only the load balancer's path MTU discovery rule.
	tpl.Count(typeIngress, 2)
	tpl.Has(typeIngress, pathMTURule(lbSG))
	tpl.Has(typeIngress, map[string]any{
		"GroupId":               getAtt(instanceSG, "GroupId"),
		"SourceSecurityGroupId": getAtt(lbSG, "GroupId"),
		"IpProtocol":            "tcp",
		"FromPort":              passthrough.DynamicPortLow,
		"ToPort":                passthrough.DynamicPortHigh,
	})
	tpl.Count(typeEgress, 1)
	tpl.Has(typeEgress, map[string]any{
		"GroupId":                    getAtt(lbSG, "GroupId"),
		"DestinationSecurityGroupId": getAtt(instanceSG, "GroupId"),
		"FromPort":                   passthrough.DynamicPortLow,
		"ToPort":                     passthrough.DynamicPortHigh,
	})
}

func TestInternalLoadBalancerAdmitsTheVpcByDefault(t *testing.T) {
	stack := cdktest.NewStack(t)
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{IpAddresses: awsec2.IpAddresses_Cidr(jsii.String("10.20.0.0/16"))})
	cluster := passthrough.NewCluster(stack, jsii.String("Cluster"), &passthrough.ClusterProps{Vpc: vpc})
	lb := passthrough.NewLoadBalancer(stack, jsii.String("LB"), &passthrough.LoadBalancerProps{Vpc: vpc, InternetFacing: jsii.Bool(false)})
	passthrough.NewFargateService(stack, jsii.String("Api"), &passthrough.FargateServiceProps{ServiceProps: passthrough.ServiceProps{
		Cluster: cluster, LoadBalancer: lb, Image: awsecsImage(),
	}})
	tpl := cdktest.TemplateOf(t, stack)
	tpl.Has(typeLoadBalancer, map[string]any{"Scheme": "internal"})
	tpl.Has(typeSecurityGroup, map[string]any{
		"SecurityGroupIngress": []any{map[string]any{
			"CidrIp":      getAtt(logicalID(t, stack, vpc), "CidrBlock"),
			"IpProtocol":  "tcp",
			"FromPort":    443,
			"ToPort":      443,
			"Description": assertions.Match_AnyValue(),
		}},
	})
	// A VPC that was passed in is used, not a new one.
	tpl.Count("AWS::EC2::VPC", 1)
}

func TestAllowedClientsReplaceTheDefault(t *testing.T) {
	stack := cdktest.NewStack(t)
	cluster := passthrough.NewCluster(stack, jsii.String("Cluster"), nil)
	lb := passthrough.NewLoadBalancer(stack, jsii.String("LB"), &passthrough.LoadBalancerProps{
		Vpc:            cluster.Vpc,
		AllowedClients: []awsec2.IPeer{awsec2.Peer_Ipv4(jsii.String("203.0.113.0/24")), awsec2.Peer_Ipv4(jsii.String("198.51.100.7/32"))},
	})
	passthrough.NewFargateService(stack, jsii.String("Api"), &passthrough.FargateServiceProps{ServiceProps: passthrough.ServiceProps{
		Cluster: cluster, LoadBalancer: lb, Image: awsecsImage(), ListenerPort: jsii.Number(8443),
	}})
	cdktest.TemplateOf(t, stack).Has(typeSecurityGroup, map[string]any{
		"GroupDescription": assertions.Match_StringLikeRegexp(jsii.String("^Passthrough NLB")),
		"SecurityGroupIngress": []any{
			tcpRule("203.0.113.0/24", 8443, 8443),
			tcpRule("198.51.100.7/32", 8443, 8443),
		},
	})
}
