package passthrough_test

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
	"github.com/passthrough-cdk/passthrough/internal/cdktest"
)

// denyGrants is the key policy statement of AWS Control Tower's
// CT.KMS.PR.3, in the form the control reads.
var denyGrants = map[string]any{
	"Effect":    "Deny",
	"Principal": map[string]any{"AWS": "*"},
	"Action":    "kms:CreateGrant",
	"Resource":  "*",
	"Condition": map[string]any{"BoolIfExists": map[string]any{
		"kms:GrantIsForAWSResource": "false",
		"aws:PrincipalIsAWSService": "false",
	}},
}

func keyHasStatement(statement map[string]any) map[string]any {
	return map[string]any{"KeyPolicy": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{statement})}}
}

// A Fargate service's container states its hard memory limit, the task's
// (CT.ECS.PR.7); it cannot use more than its task in any case.
func TestFargateContainerHasTheTaskMemoryAsHardLimit(t *testing.T) {
	f := newFixture(t, false)
	newFargate(f, "Api", f.service(443), 512, 2048)
	f.template(t).Has("AWS::ECS::TaskDefinition", map[string]any{
		"Memory":               "2048",
		"ContainerDefinitions": []any{assertions.Match_ObjectLike(&map[string]any{"Memory": 2048})},
	})
}

// The KMS key of a topic that alarms publish to lets nobody create grants
// but AWS services (CT.KMS.PR.3): none of the publishers needs one.
func TestTopicKeysDenyGrantsExceptForAWSServices(t *testing.T) {
	f := newFixture(t, false)
	key := awskms.NewKey(f.stack, jsii.String("TopicKey"), &awskms.KeyProps{EnableKeyRotation: jsii.Bool(true)})
	topic := awssns.NewTopic(f.stack, jsii.String("Topic"), &awssns.TopicProps{MasterKey: key})
	p := f.service(443)
	p.Alarms = &passthrough.AlarmProps{Topic: topic}
	newFargate(f, "Api", p, 256, 512)
	f.template(t).Has("AWS::KMS::Key", keyHasStatement(denyGrants))
}

// strict applies NewStrictCompliance to the fixture's stack.
func (f *fixture) strict(props *passthrough.StrictComplianceProps) {
	awscdk.Aspects_Of(f.stack).Add(passthrough.NewStrictCompliance(props), nil)
}

// Under NewStrictCompliance every log group is encrypted with the stack's
// key, which CloudWatch Logs of the Region may use for the account's log
// groups, and kept at least a year; a longer retention or none is kept.
func TestStrictComplianceEncryptsLogsAndKeepsThemAYear(t *testing.T) {
	f := newFixture(t, false)
	f.fargate("Api", 443) // one month by default
	awslogs.NewLogGroup(f.stack, jsii.String("Forever"), &awslogs.LogGroupProps{Retention: awslogs.RetentionDays_INFINITE})
	awslogs.NewLogGroup(f.stack, jsii.String("TwoYears"), &awslogs.LogGroupProps{Retention: awslogs.RetentionDays_TWO_YEARS})
	f.strict(nil)
	tpl := f.template(t)
	key := onlyID(t, tpl, "AWS::KMS::Key")
	logGroups := tpl.Resources("AWS::Logs::LogGroup")
	if len(logGroups) != 4 { // the service's, the flow logs', and the two above
		t.Fatalf("%d log groups, want 4", len(logGroups))
	}
	retention := map[string]int{}
	for id, props := range logGroups {
		if got := jsonString(props["KmsKeyId"]); got != jsonString(getAtt(key, "Arn")) {
			t.Errorf("log group %s: KmsKeyId %s, want the stack's key", id, got)
		}
		retention[jsonString(props["RetentionInDays"])]++
	}
	// The service's month becomes a year; the flow logs' and TwoYears'
	// two years stay, and so does Forever's absent retention.
	if want := map[string]int{"365": 1, "731": 2, "null": 1}; jsonString(retention) != jsonString(want) {
		t.Errorf("retentions %v, want %v", retention, want)
	}
	tpl.Has("AWS::KMS::Key", map[string]any{"EnableKeyRotation": true})
	tpl.Has("AWS::KMS::Key", keyHasStatement(denyGrants))
	tpl.Has("AWS::KMS::Key", keyHasStatement(map[string]any{
		"Effect":    "Allow",
		"Principal": map[string]any{"Service": map[string]any{"Fn::Join": []any{"", []any{"logs.", ref("AWS::Region"), ".amazonaws.com"}}}},
		"Action":    []any{"kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"},
		"Resource":  "*",
		"Condition": map[string]any{"ArnLike": map[string]any{"kms:EncryptionContext:aws:logs:arn": map[string]any{"Fn::Join": []any{"", []any{
			"arn:", ref("AWS::Partition"), ":logs:", ref("AWS::Region"), ":", ref("AWS::AccountId"), ":log-group:*",
		}}}}},
	}))
	resources, _ := tpl.JSON()["Resources"].(map[string]any)
	if policy := resources[key].(map[string]any)["DeletionPolicy"]; policy != "Retain" {
		t.Errorf("the key's DeletionPolicy is %v, want Retain: the retained logs could not be read without it", policy)
	}

	// A stack destroyed after use may let the key go with it.
	f = newFixture(t, false)
	f.strict(&passthrough.StrictComplianceProps{KeyRemovalPolicy: awscdk.RemovalPolicy_DESTROY})
	tpl = f.template(t)
	resources, _ = tpl.JSON()["Resources"].(map[string]any)
	if policy := resources[onlyID(t, tpl, "AWS::KMS::Key")].(map[string]any)["DeletionPolicy"]; policy != "Delete" {
		t.Errorf("with KeyRemovalPolicy DESTROY the key's DeletionPolicy is %v, want Delete", policy)
	}
}

// Under NewStrictCompliance every alarm without an action notifies a
// topic (CT.CLOUDWATCH.PR.1): by default one the aspect creates in the
// stack, encrypted with the stack's key and admitting the account's
// alarms; an alarm that has actions keeps them.
func TestStrictComplianceSendsAlarmsWithoutActionsToATopic(t *testing.T) {
	f := newFixture(t, false)
	f.fargate("Api", 443)
	own := awssns.NewTopic(f.stack, jsii.String("Own"), nil)
	metric := awscloudwatch.NewMetric(&awscloudwatch.MetricProps{Namespace: jsii.String("Example"), MetricName: jsii.String("Errors")})
	awscloudwatch.NewAlarm(f.stack, jsii.String("Notified"), &awscloudwatch.AlarmProps{
		Metric: metric, Threshold: jsii.Number(1), EvaluationPeriods: jsii.Number(1),
	}).AddAlarmAction(awscloudwatchactions.NewSnsAction(own))
	f.strict(nil)
	tpl := f.template(t)
	topics := tpl.Resources("AWS::SNS::Topic")
	var strictTopic string
	for id, props := range topics {
		if props["KmsMasterKeyId"] != nil {
			strictTopic = id
		}
	}
	if strictTopic == "" {
		t.Fatalf("no encrypted topic in %v", topics)
	}
	alarms := tpl.Resources("AWS::CloudWatch::Alarm")
	if len(alarms) < 4 {
		t.Fatalf("%d alarms, want the service's and Notified", len(alarms))
	}
	notified := logicalID(t, f.stack, f.stack.Node().FindChild(jsii.String("Notified")))
	for id, props := range alarms {
		alarm, ok := jsonString([]any{ref(strictTopic)}), jsonString([]any{ref(strictTopic)})
		if id == notified {
			alarm, ok = jsonString([]any{ref(onlyOther(topics, strictTopic))}), "null"
		}
		if got := jsonString(props["AlarmActions"]); got != alarm {
			t.Errorf("alarm %s: AlarmActions %s, want %s", id, got, alarm)
		}
		if got := jsonString(props["OKActions"]); got != ok {
			t.Errorf("alarm %s: OKActions %s, want %s", id, got, ok)
		}
	}
	tpl.Has("AWS::SNS::TopicPolicy", map[string]any{
		"Topics": []any{ref(strictTopic)},
		"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
			"Principal": map[string]any{"Service": "cloudwatch.amazonaws.com"},
			"Condition": map[string]any{
				"StringEquals": map[string]any{"aws:SourceAccount": ref("AWS::AccountId")},
				"ArnLike": map[string]any{"aws:SourceArn": map[string]any{"Fn::Join": []any{"", []any{
					"arn:", ref("AWS::Partition"), ":cloudwatch:", ref("AWS::Region"), ":", ref("AWS::AccountId"), ":alarm:*",
				}}}},
			},
		})})},
	})
	tpl.Has("AWS::SNS::TopicPolicy", map[string]any{
		"Topics": []any{ref(strictTopic)},
		"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
			"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
			"Effect":    "Deny",
		})})},
	})
	if outputs, _ := tpl.JSON()["Outputs"].(map[string]any); outputs == nil || !hasOutputRef(outputs, strictTopic) {
		t.Errorf("no stack output names the alarm topic %s: nobody would know to subscribe", strictTopic)
	}
}

// An AlarmTopic given to NewStrictCompliance takes the alarms without
// actions, and its policy admits the account's alarms; no topic is created.
func TestStrictComplianceUsesTheAlarmTopicGiven(t *testing.T) {
	f := newFixture(t, false)
	f.fargate("Api", 443)
	topic := awssns.NewTopic(f.stack, jsii.String("Ops"), nil)
	f.strict(&passthrough.StrictComplianceProps{AlarmTopic: topic})
	tpl := f.template(t)
	ops := onlyID(t, tpl, "AWS::SNS::Topic")
	tpl.CountWith("AWS::CloudWatch::Alarm", map[string]any{"AlarmActions": assertions.Match_Absent()}, 0)
	tpl.Has("AWS::CloudWatch::Alarm", map[string]any{"AlarmActions": []any{ref(ops)}, "OKActions": []any{ref(ops)}})
	tpl.Has("AWS::SNS::TopicPolicy", map[string]any{"Topics": []any{ref(ops)}})
}

// Under NewStrictCompliance load balancers are protected from deletion
// (CT.ELASTICLOADBALANCING.PR.5), unless DeletionProtection is false.
func TestStrictComplianceProtectsLoadBalancersUnlessTurnedOff(t *testing.T) {
	protection := func(enabled string) map[string]any {
		return map[string]any{"LoadBalancerAttributes": assertions.Match_ArrayWith(&[]any{
			map[string]any{"Key": "deletion_protection.enabled", "Value": enabled},
		})}
	}
	f := newFixture(t, false)
	f.fargate("Api", 443)
	f.strict(nil)
	f.template(t).Has("AWS::ElasticLoadBalancingV2::LoadBalancer", protection("true"))

	f = newFixture(t, false)
	f.fargate("Api", 443)
	f.strict(&passthrough.StrictComplianceProps{DeletionProtection: jsii.Bool(false)})
	f.template(t).Has("AWS::ElasticLoadBalancingV2::LoadBalancer", protection("false"))
}

// Under NewStrictCompliance a service's container without User runs as
// nobody, or the User given (CT.ECS.PR.3); a User set on the service
// stays.
func TestStrictComplianceRunsContainersAsNonRoot(t *testing.T) {
	user := func(u string) map[string]any {
		return map[string]any{"ContainerDefinitions": []any{assertions.Match_ObjectLike(&map[string]any{"User": u})}}
	}
	f := newFixture(t, false)
	f.fargate("Api", 443)
	p := f.service(8443)
	p.User = jsii.String("1000")
	newFargate(f, "Admin", p, 256, 512)
	f.strict(nil)
	tpl := f.template(t)
	tpl.Has("AWS::ECS::TaskDefinition", user(passthrough.DefaultStrictUser))
	tpl.Has("AWS::ECS::TaskDefinition", user("1000"))

	f = newFixture(t, true)
	f.ec2("Api", 443)
	f.strict(&passthrough.StrictComplianceProps{User: jsii.String("app:app")})
	f.template(t).Has("AWS::ECS::TaskDefinition", user("app:app"))
}

func TestStrictComplianceRefusesARootUser(t *testing.T) {
	for _, u := range []string{"0", "root", "0:0", "root:wheel", ""} {
		err := cdktest.Invalid(t, func() { passthrough.NewStrictCompliance(&passthrough.StrictComplianceProps{User: jsii.String(u)}) })
		want := `passthrough: NewStrictCompliance: User "` + u + `": is not a non-root user; give a uid other than 0, as "uid" or "uid:gid"`
		if err.Error() != want {
			t.Errorf("got:  %s\nwant: %s", err, want)
		}
	}
}

// overrides is the mixed instances policy of an Auto Scaling group over
// types, in that order.
func overrides(types ...string) map[string]any {
	var list []any
	for _, t := range types {
		list = append(list, map[string]any{"InstanceType": t})
	}
	return map[string]any{"MixedInstancesPolicy": assertions.Match_ObjectLike(&map[string]any{
		"LaunchTemplate": assertions.Match_ObjectLike(&map[string]any{"Overrides": list}),
	})}
}

// Under NewStrictCompliance EC2 capacity with one instance type gets a
// second of the same size (CT.AUTOSCALING.PR.6), both Nitro types that
// encrypt traffic between instances (PR.11): the default t3.medium
// becomes c6a.large with c6i.large, m6i.large gets m6a.large, and types
// given stay as they are.
func TestStrictComplianceGivesEC2CapacityASecondInstanceType(t *testing.T) {
	f := newFixture(t, true) // default instance type
	passthrough.NewCluster(f.stack, jsii.String("Intel"), &passthrough.ClusterProps{Vpc: f.cluster.Vpc, EC2: &passthrough.EC2CapacityProps{
		InstanceType: awsec2.NewInstanceType(jsii.String("m6i.large")),
	}})
	passthrough.NewCluster(f.stack, jsii.String("Chosen"), &passthrough.ClusterProps{Vpc: f.cluster.Vpc, EC2: &passthrough.EC2CapacityProps{
		InstanceType:          awsec2.NewInstanceType(jsii.String("r7g.xlarge")),
		FallbackInstanceTypes: []awsec2.InstanceType{awsec2.NewInstanceType(jsii.String("m7g.2xlarge"))},
	}})
	f.strict(nil)
	tpl := f.template(t)
	tpl.Count("AWS::AutoScaling::AutoScalingGroup", 3)
	tpl.Has("AWS::AutoScaling::AutoScalingGroup", overrides("c6a.large", "c6i.large"))
	tpl.Has("AWS::AutoScaling::AutoScalingGroup", overrides("m6i.large", "m6a.large"))
	tpl.Has("AWS::AutoScaling::AutoScalingGroup", overrides("r7g.xlarge", "m7g.2xlarge"))
	tpl.CountWith("AWS::AutoScaling::AutoScalingGroup", map[string]any{"LaunchTemplate": assertions.Match_AnyValue()}, 0)
	// The default capacity's launch template names the type it launches.
	tpl.Has("AWS::EC2::LaunchTemplate", map[string]any{
		"LaunchTemplateData": assertions.Match_ObjectLike(&map[string]any{"InstanceType": "c6a.large"}),
	})
	tpl.CountWith("AWS::EC2::LaunchTemplate", map[string]any{
		"LaunchTemplateData": assertions.Match_ObjectLike(&map[string]any{"InstanceType": "t3.medium"}),
	}, 0)
}

// For an instance type without a known sibling (burstable Graviton, say),
// NewStrictCompliance stops synthesis with an error on the cluster that
// asks for the types.
func TestStrictComplianceAsksForASecondInstanceTypeItCannotChoose(t *testing.T) {
	f := newFixture(t, false)
	passthrough.NewCluster(f.stack, jsii.String("Burstable"), &passthrough.ClusterProps{Vpc: f.cluster.Vpc, EC2: &passthrough.EC2CapacityProps{
		InstanceType: awsec2.NewInstanceType(jsii.String("t4g.medium")),
	}})
	f.strict(nil)
	errs := assertions.Annotations_FromStack(f.stack).FindError(jsii.String("/Test/Burstable"), assertions.Match_AnyValue())
	want := "passthrough: Test/Burstable: EC2.FallbackInstanceTypes: is empty, and NewStrictCompliance knows no second instance type for t4g.medium: AWS Control Tower asks for two (CT.AUTOSCALING.PR.6), each a Nitro type that encrypts the traffic between instances (CT.AUTOSCALING.PR.11); choose InstanceType and FallbackInstanceTypes among those, such as m6a.large and m6i.large, or c7g.large and c7gd.large on Graviton"
	if len(*errs) != 1 || (*errs)[0].Entry.Data != want {
		var got []any
		for _, e := range *errs {
			got = append(got, e.Entry.Data)
		}
		t.Errorf("errors on the cluster: %v\nwant: [%s]", got, want)
	}
}

// Under NewStrictCompliance every KMS key defined in scope denies grants
// except for AWS services (CT.KMS.PR.3), not only the keys of topics.
func TestStrictComplianceRestrictsGrantsOnEveryKey(t *testing.T) {
	f := newFixture(t, false)
	awskms.NewKey(f.stack, jsii.String("Data"), &awskms.KeyProps{EnableKeyRotation: jsii.Bool(true)})
	f.strict(nil)
	tpl := f.template(t)
	tpl.Count("AWS::KMS::Key", 2) // Data and the stack's compliance key
	tpl.CountWith("AWS::KMS::Key", keyHasStatement(denyGrants), 2)
}

func onlyOther(m map[string]map[string]any, except string) string {
	for id := range m {
		if id != except {
			return id
		}
	}
	return ""
}

func hasOutputRef(outputs map[string]any, id string) bool {
	for _, o := range outputs {
		if out, _ := o.(map[string]any); jsonString(out["Value"]) == jsonString(ref(id)) {
			return true
		}
	}
	return false
}
