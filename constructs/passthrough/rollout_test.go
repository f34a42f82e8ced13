package passthrough_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
	"github.com/passthrough-cdk/passthrough/internal/cdktest"
)

// rolloutFixture: two services reading one secret with RollOut, a third
// reading another secret without it, alarms to a topic.
func rolloutFixture(t *testing.T) (*fixture, *cdktest.Template, []*passthrough.Service) {
	t.Helper()
	f := newFixture(t, false)
	topic := awssns.NewTopic(f.stack, jsii.String("Ops"), nil)
	secret := awssecretsmanager.Secret_FromSecretCompleteArn(f.stack, jsii.String("Cert"), jsii.String(certArn))
	other := awssecretsmanager.Secret_FromSecretCompleteArn(f.stack, jsii.String("Other"),
		jsii.String("arn:aws:secretsmanager:eu-west-1:111122223333:secret:other-XyZ123"))
	var services []*passthrough.Service
	for i, c := range []struct {
		id      string
		secret  awssecretsmanager.ISecret
		rollOut bool
	}{{"Api", secret, true}, {"Admin", secret, true}, {"Batch", other, false}} {
		p := f.service(float64(443 + i))
		p.Certificate = &passthrough.Certificate{Secret: c.secret, RollOut: jsii.Bool(c.rollOut)}
		p.Alarms = &passthrough.AlarmProps{Topic: topic}
		services = append(services, newFargate(f, c.id, p, 256, 512))
	}
	return f, f.template(t), services
}

func TestRolloutRuleMatchesExactlyTheSecretsAWSCURRENTLabel(t *testing.T) {
	f, tpl, svcs := rolloutFixture(t)
	if svcs[2].Rollout != nil {
		t.Error("a service without RollOut has a rollout")
	}
	rules := map[string]bool{}
	for id, r := range tpl.Resources("AWS::Events::Rule") {
		props := r
		pattern, _ := json.Marshal(props["EventPattern"])
		if !strings.Contains(string(pattern), "aws.secretsmanager") {
			continue
		}
		rules[id] = true
		want := `{"detail":{"labelUpdated":["AWSCURRENT"]},"detail-type":["Secret Label Updated"],"resources":["` + certArn + `"],"source":["aws.secretsmanager"]}`
		if string(pattern) != want {
			t.Errorf("rule %s pattern\n got %s\nwant %s", id, pattern, want)
		}
	}
	for _, s := range svcs[:2] {
		id := logicalID(t, f.stack, s.Rollout.Rule)
		if !rules[id] {
			t.Errorf("%s: rule %s not among the secret rules %v", *s.Node().Path(), id, rules)
		}
	}
	if len(rules) != 2 {
		t.Errorf("%d Secrets Manager rules, want one per service with RollOut (2)", len(rules))
	}
}

// Each state machine calls ecs:UpdateService through the AWS SDK
// integration on exactly its own service, forcing a new deployment, and its
// role allows that call on that service and otherwise only the log
// delivery and X-Ray actions Step Functions needs.
func TestRolloutStateMachineUpdatesExactlyItsServiceAndNothingMore(t *testing.T) {
	f, tpl, svcs := rolloutFixture(t)
	machines := tpl.Resources("AWS::StepFunctions::StateMachine")
	if len(machines) != 2 {
		t.Fatalf("%d state machines, want 2", len(machines))
	}
	for _, s := range svcs[:2] {
		smID := logicalID(t, f.stack, s.Rollout.StateMachine)
		svcID := logicalID(t, f.stack, s.Service)
		def, _ := json.Marshal(machines[smID]["DefinitionString"])
		for _, want := range []string{
			`arn:`, `:states:::aws-sdk:ecs:updateService`,
			`\"ForceNewDeployment\":true`,
			`{"Ref":"` + svcID + `"}`,
			`\"ResultPath\":null`,
		} {
			if !strings.Contains(string(def), want) {
				t.Errorf("%s definition lacks %s:\n%s", smID, want, def)
			}
		}
		for _, other := range svcs {
			if other != s && strings.Contains(string(def), `{"Ref":"`+logicalID(t, f.stack, other.Service)+`"}`) {
				t.Errorf("%s names service %s too", smID, *other.Node().Path())
			}
		}

		role := logicalID(t, f.stack, s.Rollout.StateMachine.Role())
		var actions []string
		for _, p := range tpl.Resources("AWS::IAM::Policy") {
			roles, _ := json.Marshal(p["Roles"])
			if !strings.Contains(string(roles), `"`+role+`"`) {
				continue
			}
			doc := p["PolicyDocument"].(map[string]any)
			for _, st := range doc["Statement"].([]any) {
				st := st.(map[string]any)
				if st["Effect"] != "Allow" {
					t.Errorf("statement %v", st)
				}
				res, _ := json.Marshal(st["Resource"])
				acts, _ := json.Marshal(st["Action"])
				switch {
				case strings.Contains(string(acts), "ecs:"):
					if string(acts) != `"ecs:UpdateService"` || string(res) != `{"Ref":"`+svcID+`"}` {
						t.Errorf("ECS statement: %s on %s, want ecs:UpdateService on the service alone", acts, res)
					}
				case strings.Contains(string(acts), "logs:") || strings.Contains(string(acts), "xray:"):
					if string(res) != `"*"` {
						t.Errorf("delivery statement %s on %s", acts, res)
					}
				default:
					t.Errorf("unexpected statement: %s on %s", acts, res)
				}
				actions = append(actions, string(acts))
			}
		}
		if !strings.Contains(strings.Join(actions, " "), "ecs:UpdateService") {
			t.Errorf("role %s cannot update the service; statements %v", role, actions)
		}
	}
}

// The rule may start its state machine and nothing else, and hands it an
// empty input: the execution history holds no event.
func TestRolloutRuleStartsOnlyItsStateMachineWithEmptyInput(t *testing.T) {
	f, tpl, svcs := rolloutFixture(t)
	s := svcs[0]
	rule := tpl.Resources("AWS::Events::Rule")[logicalID(t, f.stack, s.Rollout.Rule)]
	targets := rule["Targets"].([]any)
	if len(targets) != 1 {
		t.Fatalf("%d targets", len(targets))
	}
	target := targets[0].(map[string]any)
	smID := logicalID(t, f.stack, s.Rollout.StateMachine)
	if got, _ := json.Marshal(target["Arn"]); string(got) != `{"Ref":"`+smID+`"}` {
		t.Errorf("target %s", got)
	}
	if target["Input"] != "{}" {
		t.Errorf("input %v, want {}", target["Input"])
	}
	roleID := target["RoleArn"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
	for _, p := range tpl.Resources("AWS::IAM::Policy") {
		roles, _ := json.Marshal(p["Roles"])
		if !strings.Contains(string(roles), `"`+roleID+`"`) {
			continue
		}
		got, _ := json.Marshal(p["PolicyDocument"].(map[string]any)["Statement"])
		if want := `[{"Action":"states:StartExecution","Effect":"Allow","Resource":{"Ref":"` + smID + `"}}]`; string(got) != want {
			t.Errorf("events role statements\n got %s\nwant %s", got, want)
		}
	}
}

func TestRolloutReportsCompletionAndFailureToTheTopic(t *testing.T) {
	f, tpl, svcs := rolloutFixture(t)
	s := svcs[0]
	svcID := logicalID(t, f.stack, s.Service)
	rule := tpl.Resources("AWS::Events::Rule")[logicalID(t, f.stack, s.Rollout.CompletedRule)]
	props := rule
	pattern, _ := json.Marshal(props["EventPattern"])
	want := `{"detail":{"eventName":["SERVICE_DEPLOYMENT_COMPLETED"]},"detail-type":["ECS Deployment State Change"],"resources":[{"Ref":"` + svcID + `"}],"source":["aws.ecs"]}`
	if string(pattern) != want {
		t.Errorf("deployed rule pattern\n got %s\nwant %s", pattern, want)
	}
	if props["Name"] != "Test-Api-deployed" {
		t.Errorf("deployed rule name %v", props["Name"])
	}
	if s.Alarms.RollbackRule == nil {
		t.Error("no rollback rule: a rolled back rollout would go unreported")
	}
	alarm := tpl.Resources("AWS::CloudWatch::Alarm")[logicalID(t, f.stack, s.Rollout.FailedAlarm)]
	ap := alarm
	if ap["MetricName"] != "ExecutionsFailed" || len(ap["AlarmActions"].([]any)) != 1 {
		t.Errorf("failed alarm %v", ap)
	}
	if name, _ := ap["AlarmName"].(string); !strings.HasPrefix(name, "Test-Api-certificate-rollout-failed-") {
		t.Errorf("alarm name %q: the topic admits alarms named after the stack", name)
	}
}

func TestRollOutNeedsTheSecretsCompleteARN(t *testing.T) {
	runInvalid(t, []invalidCase{{"secret by name", serviceWith(func(p *serviceProps) {
		p.Certificate = &passthrough.Certificate{
			Secret:  awssecretsmanager.Secret_FromSecretNameV2(p.Cluster, jsii.String("ByName"), jsii.String("passthrough/demo")),
			RollOut: jsii.Bool(true),
		}
	}), "passthrough: Test/Api: Certificate.RollOut true: needs the secret's complete ARN, which its events carry; import it with Secret_FromSecretCompleteArn, not by name or partial ARN"}})
}

func TestKeyPassphraseArrivesAsASecretOfItsOwn(t *testing.T) {
	f := newFixture(t, false)
	secret := awssecretsmanager.Secret_FromSecretCompleteArn(f.stack, jsii.String("Cert"), jsii.String(certArn))
	const passArn = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:passphrase-QwErTy"
	pass := awssecretsmanager.Secret_FromSecretCompleteArn(f.stack, jsii.String("Pass"), jsii.String(passArn))
	withCertificate(f, &passthrough.Certificate{Secret: secret, KeyPassphrase: pass})
	raw, _ := json.Marshal(f.template(t).JSON())
	if !strings.Contains(string(raw), `{"Name":"TLS_KEY_PASSPHRASE","ValueFrom":"`+passArn+`"}`) {
		t.Error("no TLS_KEY_PASSPHRASE secret from the passphrase secret's whole value")
	}
}

func TestKeyPassphraseIsRefusedInPlainEnvironmentAndTwice(t *testing.T) {
	runInvalid(t, []invalidCase{
		{"passphrase in the plain environment", serviceWith(func(p *serviceProps) {
			p.Environment = map[string]*string{"TLS_KEY_PASSPHRASE": jsii.String("hunter2")}
		}), "passthrough: Test/Api: Environment TLS_KEY_PASSPHRASE: would put key material in the template in plain text; deliver it with Certificate (or Secrets)"},
		{"passphrase from Certificate and Secrets", func(f *fixture) {
			p := f.service(443)
			secret := certSecret(f)
			p.Certificate = &passthrough.Certificate{Secret: secret, KeyPassphrase: secret}
			p.Secrets = map[string]awsecs.Secret{"TLS_KEY_PASSPHRASE": awsecs.Secret_FromSecretsManager(p.Certificate.Secret, nil)}
			newFargate(f, "Api", p, 256, 512)
		}, "passthrough: Test/Api: Secrets TLS_KEY_PASSPHRASE: is also set by Certificate; set it in one place"},
	})
}

// Without Certificate.KeyPassphrase, the passphrase may come through
// Secrets: Certificate does not set it.
func TestKeyPassphraseMayComeThroughSecretsWithoutKeyPassphrase(t *testing.T) {
	f := newFixture(t, false)
	p := f.service(443)
	p.Certificate = &passthrough.Certificate{Secret: certSecret(f)}
	p.Secrets = map[string]awsecs.Secret{"TLS_KEY_PASSPHRASE": awsecs.Secret_FromSecretsManager(p.Certificate.Secret, jsii.String("passphrase"))}
	newFargate(f, "Api", p, 256, 512)
	raw, _ := json.Marshal(f.template(t).JSON())
	if !strings.Contains(string(raw), `"Name":"TLS_KEY_PASSPHRASE"`) {
		t.Error("TLS_KEY_PASSPHRASE from Secrets is missing")
	}
}
