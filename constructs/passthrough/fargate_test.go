package passthrough_test

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
)

// Graviton, Fargate Spot, and both together: AWS supports Fargate Spot for
// ARM64 tasks on platform version 1.4.0 and later.
func TestFargateARM64AndSpot(t *testing.T) {
	f := newFixture(t, false)
	passthrough.NewFargateService(f.stack, jsii.String("Arm"), &passthrough.FargateServiceProps{
		ServiceProps: f.service(443), ARM64: jsii.Bool(true),
	})
	passthrough.NewFargateService(f.stack, jsii.String("Cheap"), &passthrough.FargateServiceProps{
		ServiceProps: f.service(8443), Spot: jsii.Bool(true),
	})
	both := passthrough.NewFargateService(f.stack, jsii.String("CheapArm"), &passthrough.FargateServiceProps{
		ServiceProps: f.service(9443), Spot: jsii.Bool(true), ARM64: jsii.Bool(true),
	})
	tpl := f.template(t)
	tpl.CountWith(typeTaskDef, map[string]any{
		"RuntimePlatform": map[string]any{"CpuArchitecture": "ARM64", "OperatingSystemFamily": "LINUX"},
	}, 2)
	spot := []any{
		map[string]any{"CapacityProvider": "FARGATE", "Base": 2, "Weight": 1},
		map[string]any{"CapacityProvider": "FARGATE_SPOT", "Weight": 3},
	}
	tpl.CountWith(typeService, map[string]any{"LaunchType": assertions.Match_Absent(), "CapacityProviderStrategy": spot}, 2)
	tpl.Has(typeService, map[string]any{
		"CapacityProviderStrategy": spot,
		"TaskDefinition":           map[string]any{"Ref": logicalID(t, f.stack, both.TaskDefinition)},
	})
	tpl.Has("AWS::ECS::ClusterCapacityProviderAssociations", map[string]any{
		"CapacityProviders": assertions.Match_ArrayWith(&[]any{"FARGATE", "FARGATE_SPOT"}),
	})
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

func TestFargateServiceTargetsTasksByIPOnContainerPort(t *testing.T) {
	f := newFixture(t, false)
	f.fargate("Api", 443)
	tpl := f.template(t)

	tpl.Has(typeTaskDef, map[string]any{
		"NetworkMode":             "awsvpc",
		"RequiresCompatibilities": []any{"FARGATE"},
		"Cpu":                     "256",
		"Memory":                  "512",
		"ContainerDefinitions": []any{assertions.Match_ObjectLike(&map[string]any{
			"Name":                   "app",
			"PortMappings":           []any{map[string]any{"ContainerPort": 8443, "HostPort": 8443, "Protocol": "tcp"}},
			"ReadonlyRootFilesystem": true,
			"StopTimeout":            30,
		})},
	})
	tpl.Has(typeTargetGroup, map[string]any{
		"Protocol":   "TCP",
		"Port":       8443,
		"TargetType": "ip",
	})
	tpl.Has(typeService, map[string]any{
		"LaunchType": "FARGATE",
		"NetworkConfiguration": map[string]any{"AwsvpcConfiguration": assertions.Match_ObjectLike(&map[string]any{
			"AssignPublicIp": "DISABLED",
		})},
		"LoadBalancers": []any{map[string]any{
			"ContainerName":  "app",
			"ContainerPort":  8443,
			"TargetGroupArn": ref(onlyID(t, tpl, typeTargetGroup)),
		}},
	})
}

func TestFargateTaskSizesAreRefusedUnlessFargateOffersThem(t *testing.T) {
	runInvalid(t, []invalidCase{
		{"CPU that does not exist", fargateWith(func(p *fargateProps) { p.CPU = jsii.Number(300) }), "passthrough: Test/Api: CPU 300: is not a Fargate task size; use 256, 512, 1024, 2048, 4096, 8192 or 16384"},
		{"memory that the CPU does not offer", fargateWith(func(p *fargateProps) { p.MemoryLimitMiB = jsii.Number(4096) }), "passthrough: Test/Api: MemoryLimitMiB 4096: is not offered by Fargate with CPU 256 (see the task size table in the Amazon ECS developer guide)"},
	})
}
