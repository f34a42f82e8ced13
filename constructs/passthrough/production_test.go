package passthrough_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
	"github.com/passthrough-cdk/passthrough/internal/cdktest"
)

const typeAlarm = "AWS::CloudWatch::Alarm"

func TestAlarmsAreOnByDefaultAndRollBackDeployments(t *testing.T) {
	f := newFixture(t, false)
	svc := f.fargate("Api", 443)
	tpl := f.template(t)
	tg := logicalID(t, f.stack, svc.TargetGroup)

	// Two for the service (no certificate, so no expiry alarm), two for the
	// load balancer.
	tpl.Count(typeAlarm, 4)
	tpl.Has(typeAlarm, map[string]any{
		"AlarmName":          "Test-Api-healthy-targets-below-floor-5b7e6cd7",
		"MetricName":         "HealthyHostCount",
		"Namespace":          "AWS/NetworkELB",
		"Statistic":          "Minimum",
		"Threshold":          2,
		"ComparisonOperator": "LessThanThreshold",
		"EvaluationPeriods":  3,
		"Dimensions": assertions.Match_ArrayWith(&[]any{map[string]any{
			"Name": "TargetGroup", "Value": map[string]any{"Fn::GetAtt": []any{tg, "TargetGroupFullName"}},
		}}),
	})
	tpl.Has(typeAlarm, map[string]any{
		"AlarmName":          "Test-Api-unhealthy-targets-1c3320a4",
		"MetricName":         "UnHealthyHostCount",
		"Statistic":          "Maximum",
		"Threshold":          0,
		"ComparisonOperator": "GreaterThanThreshold",
		"EvaluationPeriods":  2,
	})
	// A rollout that trips the unhealthy-targets alarm is rolled back. The
	// alarm is named by its literal name, and the service waits for it.
	services := tpl.Resources(typeService)
	tpl.Has(typeService, map[string]any{
		"DeploymentConfiguration": assertions.Match_ObjectLike(&map[string]any{
			"Alarms": map[string]any{
				"AlarmNames": []any{"Test-Api-unhealthy-targets-1c3320a4"},
				"Enable":     true,
				"Rollback":   true,
			},
		}),
	})
	if len(services) != 1 {
		t.Fatalf("%d services, want 1", len(services))
	}
	if deps := dependsOn(t, tpl, logicalID(t, f.stack, svc.Service)); !deps[logicalID(t, f.stack, svc.Alarms.UnhealthyTargets)] {
		t.Errorf("the service depends on %v, not on its deployment alarm", deps)
	}
	tpl.Has("AWS::Events::Rule", map[string]any{
		"EventPattern": map[string]any{
			"source":      []any{"aws.ecs"},
			"detail-type": []any{"ECS Deployment State Change"},
			"resources":   []any{map[string]any{"Ref": logicalID(t, f.stack, svc.Service)}},
			"detail":      map[string]any{"eventName": []any{"SERVICE_DEPLOYMENT_FAILED"}},
		},
		"Name": "Test-Api-rollback",
	})
}

// The deployment alarm is passed by its literal name, so aws-cdk-lib prints
// no notice that the reference may become circular: synthesizing a service
// records no info or warning annotation.
func TestServicesSynthesizeWithoutNotices(t *testing.T) {
	f := newFixture(t, true)
	f.fargate("Api", 443)
	f.ec2("Admin", 9443)
	annotations := assertions.Annotations_FromStack(f.stack)
	for kind, found := range map[string]*[]*cxapi.SynthesisMessage{
		"info":    annotations.FindInfo(jsii.String("*"), assertions.Match_AnyValue()),
		"warning": annotations.FindWarning(jsii.String("*"), assertions.Match_AnyValue()),
	} {
		for _, m := range *found {
			t.Errorf("%s annotation on %s: %v", kind, *m.Id, m.Entry.Data)
		}
	}
}

func TestAlarmsNotifyTheTopicAndCertificateExpiryIsWatched(t *testing.T) {
	f := newFixture(t, false)
	topic := awssns.NewTopic(f.stack, jsii.String("Ops"), nil)
	p := f.service(443)
	p.Certificate = &passthrough.Certificate{Secret: awssecretsmanager.Secret_FromSecretCompleteArn(f.stack, jsii.String("Cert"), jsii.String(certArn))}
	p.Alarms = &passthrough.AlarmProps{Topic: topic, CertificateExpiryDays: jsii.Number(30)}
	svc := newFargate(f, "Api", p, 256, 512)
	tpl := f.template(t)
	topicRef := map[string]any{"Ref": logicalID(t, f.stack, topic)}

	tpl.Count(typeAlarm, 5) // three of the service's, two of the load balancer's
	tpl.CountWith(typeAlarm, map[string]any{"AlarmActions": []any{topicRef}, "OKActions": []any{topicRef}}, 3)
	// Any hour of the last six with a datapoint below the threshold fires
	// the alarm; hours without one are skipped, so a report that misses an
	// hour does not blind it, and six hours without any leave it in
	// INSUFFICIENT_DATA.
	tpl.Has(typeAlarm, map[string]any{
		"AlarmName":          "Test-Api-certificate-expiry-1445e973",
		"Namespace":          "Passthrough",
		"MetricName":         "CertificateDaysToExpiry",
		"Dimensions":         []any{map[string]any{"Name": "ServiceName", "Value": "Test/Api"}},
		"Statistic":          "Minimum",
		"Period":             3600,
		"EvaluationPeriods":  6,
		"DatapointsToAlarm":  1,
		"TreatMissingData":   "missing",
		"Threshold":          30,
		"ComparisonOperator": "LessThanThreshold",
	})
	tpl.Has("AWS::Events::Rule", map[string]any{
		"Targets": []any{assertions.Match_ObjectLike(&map[string]any{"Arn": topicRef})},
	})
	if svc.Alarms.CertificateExpiry == nil {
		t.Error("Alarms.CertificateExpiry is nil")
	}
}

func TestAlarmsCanBeTurnedOff(t *testing.T) {
	f := newFixture(t, false)
	p := f.service(443)
	p.Alarms = &passthrough.AlarmProps{Disabled: jsii.Bool(true)}
	newFargate(f, "Api", p, 256, 512)
	tpl := f.template(t)
	tpl.Count(typeAlarm, 2) // the load balancer's, which have their own switch
	tpl.CountWith(typeAlarm, map[string]any{"AlarmName": "Test-LB-target-resets-37d8305d"}, 1)
	tpl.CountWith(typeAlarm, map[string]any{"AlarmName": "Test-LB-port-allocation-errors-3ba652df"}, 1)
	tpl.Count("AWS::Events::Rule", 0)
	tpl.Has(typeService, map[string]any{
		// aws-cdk-lib's default flags write a disabled alarm block.
		"DeploymentConfiguration": assertions.Match_ObjectLike(&map[string]any{"Alarms": assertions.Match_ObjectLike(&map[string]any{"Enable": false})}),
	})
}

func TestAutoScalingTracksCPUAndMemoryAndKeepsTheFloor(t *testing.T) {
	f := newFixture(t, false)
	p := f.service(443)
	p.AutoScaling = &passthrough.AutoScalingProps{MaxCapacity: jsii.Number(8)}
	newFargate(f, "Api", p, 256, 512)
	tpl := f.template(t)

	tpl.Has("AWS::ApplicationAutoScaling::ScalableTarget", map[string]any{
		"MinCapacity":       2,
		"MaxCapacity":       8,
		"ScalableDimension": "ecs:service:DesiredCount",
	})
	for metric, target := range map[string]float64{"ECSServiceAverageCPUUtilization": 60, "ECSServiceAverageMemoryUtilization": 75} {
		tpl.Has("AWS::ApplicationAutoScaling::ScalingPolicy", map[string]any{
			"PolicyType": "TargetTrackingScaling",
			"TargetTrackingScalingPolicyConfiguration": map[string]any{
				"PredefinedMetricSpecification": map[string]any{"PredefinedMetricType": metric},
				"TargetValue":                   target,
				"ScaleInCooldown":               300,
				"ScaleOutCooldown":              60,
			},
		})
	}
	// Deployments keep the scaled count instead of resetting it.
	tpl.Has(typeService, map[string]any{"DesiredCount": assertions.Match_Absent()})
	tpl.Has(typeAlarm, map[string]any{"MetricName": "HealthyHostCount", "Threshold": 2})
}

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

func TestGravitonInstancesGetTheARMAMI(t *testing.T) {
	stack := cdktest.NewStack(t)
	passthrough.NewCluster(stack, jsii.String("Cluster"), &passthrough.ClusterProps{
		EC2: &passthrough.EC2CapacityProps{InstanceType: awsec2.NewInstanceType(jsii.String("t4g.medium"))},
	})
	tpl := cdktest.TemplateOf(t, stack)
	tpl.Has("AWS::EC2::LaunchTemplate", map[string]any{
		"LaunchTemplateData": assertions.Match_ObjectLike(&map[string]any{
			"InstanceType": "t4g.medium",
			"ImageId":      map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("amazonlinux2023arm64"))},
		}),
	})
}

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

func TestProductionOptionsValidation(t *testing.T) {
	cases := []invalidCase{
		{
			name: "auto scaling minimum below the floor",
			build: func(f *fixture) {
				p := f.service(443)
				p.AutoScaling = &passthrough.AutoScalingProps{MinCapacity: jsii.Number(1), MaxCapacity: jsii.Number(4)}
				newFargate(f, "Api", p, 256, 512)
			},
			want: "passthrough: Test/Api: AutoScaling.MinCapacity 1: must be a whole number from 2 to 10000",
		},
		{
			name: "auto scaling maximum below the minimum",
			build: func(f *fixture) {
				p := f.service(443)
				p.AutoScaling = &passthrough.AutoScalingProps{MinCapacity: jsii.Number(4), MaxCapacity: jsii.Number(3)}
				newFargate(f, "Api", p, 256, 512)
			},
			want: "passthrough: Test/Api: AutoScaling.MaxCapacity 3: is below the minimum capacity 4",
		},
		{
			name: "auto scaling without maximum",
			build: func(f *fixture) {
				p := f.service(443)
				p.AutoScaling = &passthrough.AutoScalingProps{}
				newFargate(f, "Api", p, 256, 512)
			},
			want: "passthrough: Test/Api: AutoScaling.MaxCapacity: is required",
		},
		{
			name: "CPU target of 100 percent",
			build: func(f *fixture) {
				p := f.service(443)
				p.AutoScaling = &passthrough.AutoScalingProps{MaxCapacity: jsii.Number(4), TargetCPUPercent: jsii.Number(100)}
				newFargate(f, "Api", p, 256, 512)
			},
			want: "passthrough: Test/Api: AutoScaling.TargetCPUPercent 100: must be a whole number from 10 to 95",
		},
		{
			name: "certificate expiry threshold of zero days",
			build: func(f *fixture) {
				p := f.service(443)
				p.Alarms = &passthrough.AlarmProps{CertificateExpiryDays: jsii.Number(0)}
				newFargate(f, "Api", p, 256, 512)
			},
			want: "passthrough: Test/Api: Alarms.CertificateExpiryDays 0: must be a whole number from 1 to 397",
		},
		{
			name: "no NAT gateway and no endpoints",
			build: func(f *fixture) {
				passthrough.NewCluster(f.stack, jsii.String("Offline"), &passthrough.ClusterProps{NatGateways: jsii.Number(0)})
			},
			want: "passthrough: Test/Offline: NatGateways 0: leaves tasks no way to pull images, read secrets or write logs; set VpcEndpoints too",
		},
		{
			name: "NAT gateways with an existing VPC",
			build: func(f *fixture) {
				passthrough.NewCluster(f.stack, jsii.String("Mixed"), &passthrough.ClusterProps{Vpc: f.cluster.Vpc, NatGateways: jsii.Number(2)})
			},
			want: "passthrough: Test/Mixed: NatGateways: VpcEndpoints and DualStack shape a new VPC; they cannot be set together with Vpc",
		},
	}
	runInvalid(t, cases)
}

func TestLoadBalancerAlarmsOnTargetResets(t *testing.T) {
	stack := cdktest.NewStack(t)
	cluster := passthrough.NewCluster(stack, jsii.String("Cluster"), nil)
	topic := awssns.NewTopic(stack, jsii.String("Ops"), nil)
	lb := passthrough.NewLoadBalancer(stack, jsii.String("LB"), &passthrough.LoadBalancerProps{
		Vpc: cluster.Vpc, Alarms: &passthrough.AlarmProps{Topic: topic},
	})
	passthrough.NewLoadBalancer(stack, jsii.String("Quiet"), &passthrough.LoadBalancerProps{
		Vpc: cluster.Vpc, Alarms: &passthrough.AlarmProps{Disabled: jsii.Bool(true)},
	})
	tpl := cdktest.TemplateOf(t, stack)
	tpl.Count(typeAlarm, 2)
	tpl.Has(typeAlarm, map[string]any{
		"AlarmName":          "Test-LB-target-resets-37d8305d",
		"ComparisonOperator": "GreaterThanUpperThreshold",
		"EvaluationPeriods":  5,
		"DatapointsToAlarm":  3,
		"ThresholdMetricId":  assertions.Match_AnyValue(),
		"AlarmActions":       []any{map[string]any{"Ref": logicalID(t, stack, topic)}},
		"Metrics": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
			"MetricStat": assertions.Match_ObjectLike(&map[string]any{
				"Metric": assertions.Match_ObjectLike(&map[string]any{
					"MetricName": "TCP_Target_Reset_Count",
					"Namespace":  "AWS/NetworkELB",
				}),
				"Stat": "Sum",
			}),
		})}),
	})
	if lb.TargetResetsAlarm == nil {
		t.Error("TargetResetsAlarm is nil")
	}
}

// Any port allocation error (a target past about 55,000 connections from
// the load balancer) fires the load balancer's alarm, which notifies the
// topic; no data, which is what the metric reports while there are no
// errors, is not breaching.
func TestLoadBalancerAlarmsOnPortAllocationErrors(t *testing.T) {
	stack := cdktest.NewStack(t)
	cluster := passthrough.NewCluster(stack, jsii.String("Cluster"), nil)
	topic := awssns.NewTopic(stack, jsii.String("Ops"), nil)
	lb := passthrough.NewLoadBalancer(stack, jsii.String("LB"), &passthrough.LoadBalancerProps{
		Vpc: cluster.Vpc, Alarms: &passthrough.AlarmProps{Topic: topic},
	})
	tpl := cdktest.TemplateOf(t, stack)
	topicRef := map[string]any{"Ref": logicalID(t, stack, topic)}
	tpl.Has(typeAlarm, map[string]any{
		"AlarmName":          "Test-LB-port-allocation-errors-3ba652df",
		"Namespace":          "AWS/NetworkELB",
		"MetricName":         "PortAllocationErrorCount",
		"Dimensions":         []any{map[string]any{"Name": "LoadBalancer", "Value": getAtt(logicalID(t, stack, lb.NLB), "LoadBalancerFullName")}},
		"Statistic":          "Sum",
		"Period":             60,
		"Threshold":          0,
		"ComparisonOperator": "GreaterThanThreshold",
		"EvaluationPeriods":  1,
		"TreatMissingData":   "notBreaching",
		"AlarmActions":       []any{topicRef},
		"OKActions":          []any{topicRef},
		"AlarmDescription":   assertions.Match_StringLikeRegexp(jsii.String("Add targets")),
	})
	if lb.PortAllocationErrorsAlarm == nil {
		t.Error("PortAllocationErrorsAlarm is nil")
	}
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
