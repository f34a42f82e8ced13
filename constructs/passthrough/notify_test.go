package passthrough_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
	"github.com/passthrough-cdk/passthrough/internal/cdktest"
)

// policyStatements returns the statements of the one resource of type typ
// (a topic policy or a key) whose policy is under property prop.
func policyStatements(t *testing.T, tpl *cdktest.Template, typ, prop string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, r := range tpl.Resources(typ) {
		doc, _ := r[prop].(map[string]any)
		for _, s := range doc["Statement"].([]any) {
			out = append(out, s.(map[string]any))
		}
	}
	return out
}

// allowFor returns the Allow statements for principal (a JSON fragment of
// the Principal element) that grant action.
func allowFor(statements []map[string]any, principal, action string) []map[string]any {
	var out []map[string]any
	for _, s := range statements {
		p, _ := json.Marshal(s["Principal"])
		a, _ := json.Marshal(s["Action"])
		if s["Effect"] == "Allow" && strings.Contains(string(p), principal) && strings.Contains(string(a), action) {
			out = append(out, s)
		}
	}
	return out
}

func conditionJSON(s map[string]any) string {
	b, _ := json.Marshal(s["Condition"])
	return string(b)
}

// encryptedTopic is a topic with a KMS key of its own, as the examples use.
func encryptedTopic(scope awscdk.Stack) awssns.Topic {
	key := awskms.NewKey(scope, jsii.String("OpsKey"), nil)
	return awssns.NewTopic(scope, jsii.String("Ops"), &awssns.TopicProps{MasterKey: key, EnforceSSL: jsii.Bool(true)})
}

// Every publisher wired to the topic is admitted by the topic's policy and
// its key's, scoped to this stack's alarms and to the service's own rule:
// without it, the policy that EnforceSSL alone creates would refuse them.
func TestAlarmTopicAdmitsExactlyTheLibrarysPublishers(t *testing.T) {
	f := newFixture(t, false)
	topic := encryptedTopic(f.stack)
	p := f.service(443)
	p.Alarms = &passthrough.AlarmProps{Topic: topic}
	newFargate(f, "Api", p, 256, 512)
	tpl := f.template(t)

	topicPolicy := policyStatements(t, tpl, "AWS::SNS::TopicPolicy", "PolicyDocument")
	keyPolicy := policyStatements(t, tpl, "AWS::KMS::Key", "KeyPolicy")

	alarms := allowFor(topicPolicy, "cloudwatch.amazonaws.com", "sns:Publish")
	if len(alarms) != 1 {
		t.Fatalf("%d topic policy statements for CloudWatch, want 1 (one per stack, however many alarms): %v", len(alarms), topicPolicy)
	}
	for _, want := range []string{`"aws:SourceAccount":{"Ref":"AWS::AccountId"}`, `":alarm:Test-*"`, `"ArnLike"`} {
		if c := conditionJSON(alarms[0]); !strings.Contains(c, want) {
			t.Errorf("CloudWatch's topic statement conditions %s lack %s", c, want)
		}
	}
	rules := allowFor(topicPolicy, "events.amazonaws.com", "sns:Publish")
	if len(rules) != 1 {
		t.Fatalf("%d topic policy statements for EventBridge, want 1: %v", len(rules), topicPolicy)
	}
	for _, want := range []string{`"ArnEquals"`, `":rule/Test-Api-rollback"`, `"aws:SourceAccount"`} {
		if c := conditionJSON(rules[0]); !strings.Contains(c, want) {
			t.Errorf("EventBridge's topic statement conditions %s lack %s", c, want)
		}
	}
	for _, s := range allowFor(topicPolicy, "", "") {
		if s["Condition"] == nil {
			t.Errorf("topic policy statement without condition: %v", s)
		}
	}

	cwKey := allowFor(keyPolicy, "cloudwatch.amazonaws.com", "kms:GenerateDataKey*")
	if len(cwKey) != 1 || !strings.Contains(conditionJSON(cwKey[0]), `":alarm:Test-*"`) || !strings.Contains(conditionJSON(cwKey[0]), "aws:SourceAccount") {
		t.Errorf("key policy for CloudWatch %v, want one statement scoped to the stack's alarms", cwKey)
	}
	if len(allowFor(cwKey, "", "kms:Decrypt")) != 1 {
		t.Errorf("CloudWatch may not decrypt with the key: %v", cwKey)
	}
	// AWS does not support aws:SourceAccount or aws:SourceArn in a key
	// policy for EventBridge-to-encrypted-topic delivery: a condition would
	// drop every event.
	evKey := allowFor(keyPolicy, "events.amazonaws.com", "kms:GenerateDataKey*")
	if len(evKey) != 1 || strings.Contains(conditionJSON(evKey[0]), "aws:Source") {
		t.Errorf("key policy for EventBridge %v, want one statement without aws:Source* conditions", evKey)
	}

	// The rule targets the topic through the library's own target, which
	// adds no unscoped statement.
	tpl.Has("AWS::Events::Rule", map[string]any{
		"Name":    "Test-Api-rollback",
		"Targets": []any{map[string]any{"Arn": ref(logicalID(t, f.stack, topic)), "Id": "Target0"}},
	})
}

// Auto Scaling publishes as its service-linked role; the topic and key
// admit that role by aws:PrincipalArn, which needs no role to exist yet
// (SNS and KMS refuse a policy naming a principal that does not).
func TestAutoScalingNotificationsAreAdmitted(t *testing.T) {
	stack := cdktest.NewStack(t)
	topic := encryptedTopic(stack)
	passthrough.NewCluster(stack, jsii.String("Cluster"), &passthrough.ClusterProps{
		EC2: &passthrough.EC2CapacityProps{NotificationTopic: topic},
	})
	tpl := cdktest.TemplateOf(t, stack)
	tpl.Has("AWS::AutoScaling::AutoScalingGroup", map[string]any{
		"NotificationConfigurations": []any{assertions.Match_ObjectLike(&map[string]any{"TopicARN": ref(logicalID(t, stack, topic))})},
	})
	role := `:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"`
	for typ, prop := range map[string]string{"AWS::SNS::TopicPolicy": "PolicyDocument", "AWS::KMS::Key": "KeyPolicy"} {
		var found []map[string]any
		for _, s := range allowFor(policyStatements(t, tpl, typ, prop), `"AWS":"*"`, "") {
			if c := conditionJSON(s); strings.Contains(c, `"aws:PrincipalArn"`) && strings.Contains(c, role) {
				found = append(found, s)
			}
		}
		if len(found) != 1 {
			t.Errorf("%s: %d statements admit Auto Scaling's service-linked role, want 1", typ, len(found))
		}
	}
}

// A topic in another stack admits the service stack's alarms and rule by
// names, not references, so the stacks depend one way only.
func TestTopicInAnotherStackAdmitsWithoutACycle(t *testing.T) {
	app := cdktest.NewApp(t, cdktest.AppContext(t))
	ops := awscdk.NewStack(app, jsii.String("Ops"), nil)
	topic := encryptedTopic(ops)
	svcs := awscdk.NewStack(app, jsii.String("Services"), nil)
	cluster := passthrough.NewCluster(svcs, jsii.String("Cluster"), nil)
	lb := passthrough.NewLoadBalancer(svcs, jsii.String("LB"), &passthrough.LoadBalancerProps{Vpc: cluster.Vpc, Alarms: &passthrough.AlarmProps{Topic: topic}})
	passthrough.NewFargateService(svcs, jsii.String("Api"), &passthrough.FargateServiceProps{ServiceProps: passthrough.ServiceProps{
		Cluster: cluster, LoadBalancer: lb, Image: awsecsImage(), Alarms: &passthrough.AlarmProps{Topic: topic},
	}})
	assembly := cdktest.Synth(t, app)
	if refs := crossStackRefs(t, assembly.GetStackByName(jsii.String("Ops")).Template()); len(refs) != 0 {
		t.Errorf("the topic's stack references %v", refs)
	}
	tpl := cdktest.TemplateFromJSON(t, assembly.GetStackByName(jsii.String("Ops")).Template().(map[string]any))
	policy := policyStatements(t, tpl, "AWS::SNS::TopicPolicy", "PolicyDocument")
	raw, _ := json.Marshal(policy)
	for _, want := range []string{`:alarm:Services-*"`, `:rule/Services-Api-rollback"`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("the topic's policy does not admit %s: %s", want, raw)
		}
	}
}

// An imported topic cannot be changed: the alarms notify it and nothing is
// added to a policy the app does not own.
func TestImportedTopicIsNotifiedAndLeftAlone(t *testing.T) {
	f := newFixture(t, false)
	topic := awssns.Topic_FromTopicArn(f.stack, jsii.String("Ops"), jsii.String("arn:aws:sns:eu-west-1:111122223333:ops"))
	p := f.service(443)
	p.Alarms = &passthrough.AlarmProps{Topic: topic}
	newFargate(f, "Api", p, 256, 512)
	tpl := f.template(t)
	tpl.Count("AWS::SNS::TopicPolicy", 0)
	tpl.CountWith(typeAlarm, map[string]any{"AlarmActions": []any{"arn:aws:sns:eu-west-1:111122223333:ops"}}, 2)
}

var ruleNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Rule names are what EventBridge accepts, at most 64 characters, and stay
// unique when cut.
func TestRollbackRuleNamesFitEventBridge(t *testing.T) {
	app := cdktest.NewApp(t, nil)
	stack := awscdk.NewStack(app, jsii.String("AVeryLongStackNameForAPaymentsPlatformInProduction"), nil)
	cluster := passthrough.NewCluster(stack, jsii.String("Cluster"), nil)
	lb := passthrough.NewLoadBalancer(stack, jsii.String("LB"), &passthrough.LoadBalancerProps{Vpc: cluster.Vpc})
	for i, id := range []string{"Settlement Service With Spaces One", "Settlement Service With Spaces Two"} {
		passthrough.NewFargateService(stack, jsii.String(id), &passthrough.FargateServiceProps{ServiceProps: passthrough.ServiceProps{
			Cluster: cluster, LoadBalancer: lb, Image: awsecsImage(), ListenerPort: jsii.Number(float64(443 + i)),
		}})
	}
	names := map[string]bool{}
	for _, r := range cdktest.TemplateOf(t, stack).Resources("AWS::Events::Rule") {
		name, _ := r["Name"].(string)
		if !ruleNameRE.MatchString(name) {
			t.Errorf("rule name %q is not a valid EventBridge rule name", name)
		}
		names[name] = true
	}
	if len(names) != 2 {
		t.Errorf("rule names %v, want two distinct", names)
	}
}
