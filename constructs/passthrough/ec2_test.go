package passthrough_test

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

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
		"FromPort":              30000,
		"ToPort":                32767,
	})
	tpl.Count(typeEgress, 1)
	tpl.Has(typeEgress, map[string]any{
		"GroupId":                    getAtt(lbSG, "GroupId"),
		"DestinationSecurityGroupId": getAtt(instanceSG, "GroupId"),
		"FromPort":                   30000,
		"ToPort":                     32767,
	})
}

func TestEC2ServiceUsesBridgeModeDynamicHostPortsAndInstanceTargets(t *testing.T) {
	f := newFixture(t, true)
	f.ec2("Api", 443)
	tpl := f.template(t)

	tpl.Has(typeTaskDef, map[string]any{
		"NetworkMode":             "bridge",
		"RequiresCompatibilities": []any{"EC2"},
		"ContainerDefinitions": []any{assertions.Match_ObjectLike(&map[string]any{
			"PortMappings": []any{map[string]any{"ContainerPort": 8443, "HostPort": 0, "Protocol": "tcp"}},
			"Cpu":          256,
			"Memory":       512,
		})},
	})
	tpl.Has(typeTargetGroup, map[string]any{
		"Protocol":        "TCP",
		"TargetType":      "instance",
		"HealthCheckPort": "traffic-port",
	})
	tpl.Has(typeService, map[string]any{
		"CapacityProviderStrategy": []any{map[string]any{
			"CapacityProvider": ref(onlyID(t, tpl, "AWS::ECS::CapacityProvider")),
			"Weight":           1,
		}},
		"LaunchType": assertions.Match_Absent(),
		"PlacementStrategies": []any{
			map[string]any{"Type": "spread", "Field": "attribute:ecs.availability-zone"},
			map[string]any{"Type": "spread", "Field": "instanceId"},
		},
	})
}

func TestEC2ServicePropsAreRefusedWithPathAndValue(t *testing.T) {
	runInvalid(t, []invalidCase{
		{"EC2 service on a Fargate-only cluster", func(f *fixture) { f.ec2("Api", 443) }, "passthrough: Test/Api: Cluster Test/Cluster: has no EC2 capacity; create it with ClusterProps.EC2, or use NewFargateService"},
		{"memory reservation above the limit", ec2With(func(p *ec2Props) { p.MemoryLimitMiB, p.MemoryReservationMiB = jsii.Number(512), jsii.Number(1024) }), "passthrough: Test/Api: MemoryReservationMiB 1024: is above MemoryLimitMiB 512"},
	})
}
