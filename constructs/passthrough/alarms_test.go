package passthrough_test

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
	"github.com/passthrough-cdk/passthrough/internal/cdktest"
)

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

// The certificate metric's series is unique per stack and service by
// default, so two stacks with an "Api" never share one; SERVICE_NAME set in
// Environment still wins.
func TestCertificateMetricSeriesIsUniquePerStackAndService(t *testing.T) {
	app := cdktest.NewApp(t, nil)
	secret := func(stack awscdk.Stack) *passthrough.Certificate {
		return &passthrough.Certificate{Secret: awssecretsmanager.Secret_FromSecretCompleteArn(stack, jsii.String("Cert"), jsii.String(certArn))}
	}
	dimension := func(stack awscdk.Stack) string {
		for _, a := range cdktest.TemplateOf(t, stack).Resources(typeAlarm) {
			if a["MetricName"] == "CertificateDaysToExpiry" {
				raw, _ := json.Marshal(a["Dimensions"])
				return string(raw)
			}
		}
		t.Fatalf("%s has no certificate expiry alarm", *stack.StackName())
		return ""
	}
	var stacks []awscdk.Stack
	for i, name := range []string{"Payments", "Ledger", "Named"} {
		stack := awscdk.NewStack(app, jsii.String(name), nil)
		cluster := passthrough.NewCluster(stack, jsii.String("Cluster"), nil)
		lb := passthrough.NewLoadBalancer(stack, jsii.String("LB"), &passthrough.LoadBalancerProps{Vpc: cluster.Vpc})
		props := passthrough.ServiceProps{Cluster: cluster, LoadBalancer: lb, Image: awsecsImage(), Certificate: secret(stack)}
		if i == 2 {
			props.Environment = map[string]*string{"SERVICE_NAME": jsii.String("ledger-api")}
		}
		passthrough.NewFargateService(stack, jsii.String("Api"), &passthrough.FargateServiceProps{ServiceProps: props})
		stacks = append(stacks, stack)
	}
	var got []string
	for _, stack := range stacks {
		got = append(got, dimension(stack))
	}
	want := []string{
		`[{"Name":"ServiceName","Value":"Payments/Api"}]`,
		`[{"Name":"ServiceName","Value":"Ledger/Api"}]`,
		`[{"Name":"ServiceName","Value":"ledger-api"}]`,
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("stack %d: certificate alarm dimensions %s, want %s", i, got[i], want[i])
		}
	}
}

func TestAlarmPropsAreRefusedWithPathAndValue(t *testing.T) {
	runInvalid(t, []invalidCase{
		{"certificate expiry threshold of zero days", serviceWith(func(p *serviceProps) { p.Alarms = &passthrough.AlarmProps{CertificateExpiryDays: jsii.Number(0)} }), "passthrough: Test/Api: Alarms.CertificateExpiryDays 0: must be a whole number from 1 to 397"},
	})
}
