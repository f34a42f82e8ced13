package test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/passthrough-cdk/passthrough/examples/stacks"
	"github.com/passthrough-cdk/passthrough/internal/reach"
)

// Architecture 3's Public service deploys blue/green: the template holds the
// strategy, a production and a test listener, the alternate target group,
// and the TLS verification hook with its permissions, read here as
// CloudFormation reads them.
func TestBlueGreenExampleHookAndPermissions(t *testing.T) {
	tpl := exampleTemplate(t, stacks.PublicAndInternalStack)
	public := findID(t, tpl, typeService, "PublicService")
	svc := tpl.Resources(typeService)[public]
	deployment := svc["DeploymentConfiguration"].(map[string]any)
	if deployment["Strategy"] != "BLUE_GREEN" || deployment["BakeTimeInMinutes"] != float64(10) {
		t.Errorf("Public deploys %v with bake time %v, want BLUE_GREEN, 10", deployment["Strategy"], deployment["BakeTimeInMinutes"])
	}
	if internal := tpl.Resources(typeService)[findID(t, tpl, typeService, "InternalService")]; internal["DeploymentConfiguration"].(map[string]any)["Strategy"] != nil {
		t.Errorf("Internal has a deployment strategy; it stays rolling")
	}

	// Production listener -> primary, test listener -> alternate, both
	// named in the service's advanced configuration.
	attachment := svc["LoadBalancers"].([]any)[0].(map[string]any)
	adv := attachment["AdvancedConfiguration"].(map[string]any)
	listeners := tpl.Resources(typeListener)
	production, test := refOf(t, adv["ProductionListenerRule"]), refOf(t, adv["TestListenerRule"])
	for _, c := range []struct {
		listener string
		port     int
		tg       any
	}{
		{production, stacks.PublicListenerPort, attachment["TargetGroupArn"]},
		{test, stacks.PublicTestListenerPort, adv["AlternateTargetGroupArn"]},
	} {
		l := listeners[c.listener]
		if l["Port"] != float64(c.port) || refOf(t, forwardTarget(t, l)) != refOf(t, c.tg) {
			t.Errorf("listener %s on port %v forwards to %s, want port %d to %s", c.listener, l["Port"], refOf(t, forwardTarget(t, l)), c.port, refOf(t, c.tg))
		}
	}
	groups := tpl.Resources(typeTargetGroup)
	if a, b := groups[refOf(t, attachment["TargetGroupArn"])], groups[refOf(t, adv["AlternateTargetGroupArn"])]; !reflect.DeepEqual(a, b) {
		t.Errorf("the alternate target group differs from the primary:\n%v\n%v", a, b)
	}

	// The hook: after test traffic shifts, the function in the VPC, invoked
	// by a role that may invoke it and nothing else.
	hooks := deployment["LifecycleHooks"].([]any)
	if len(hooks) != 1 {
		t.Fatalf("%d lifecycle hooks, want 1", len(hooks))
	}
	hook := hooks[0].(map[string]any)
	fn := findID(t, tpl, "AWS::Lambda::Function", "PublicVerifyFunction")
	if !reflect.DeepEqual(hook["LifecycleStages"], []any{"POST_TEST_TRAFFIC_SHIFT"}) || getAttOf(t, hook["HookTargetArn"]) != fn {
		t.Errorf("hook %v, want %s at POST_TEST_TRAFFIC_SHIFT", hook, fn)
	}
	function := tpl.Resources("AWS::Lambda::Function")[fn]
	env := function["Environment"].(map[string]any)["Variables"].(map[string]any)
	host := stacks.InternalRecordName + "." + stacks.InternalZoneName
	if want := fmt.Sprintf("%s:%d", host, stacks.PublicTestListenerPort); env["TLSCHECK_ADDRESS"] != want || env["TLSCHECK_SERVER_NAMES"] != host || env["TLSCHECK_MIN_DAYS_LEFT"] != "21" {
		t.Errorf("hook environment %v, want the test listener at %s, checked for %s and 21 days", env, want, host)
	}
	hookSG := findID(t, tpl, typeSecurityGroup, "PublicVerifySecurityGroup")
	vpc := function["VpcConfig"].(map[string]any)
	if sgs := vpc["SecurityGroupIds"].([]any); len(sgs) != 1 || getAttOf(t, sgs[0]) != hookSG {
		t.Errorf("hook security groups %v, want only %s", sgs, hookSG)
	}

	invoker := getAttOf(t, hook["RoleArn"])
	invokerPolicies := 0
	for id, p := range tpl.Resources("AWS::IAM::Policy") {
		raw, _ := json.Marshal(p)
		attached := false
		for _, r := range p["Roles"].([]any) {
			attached = attached || refOf(t, r) == invoker
		}
		if !attached {
			if strings.Contains(string(raw), "lambda:InvokeFunction") {
				t.Errorf("policy %s also invokes functions: %s", id, raw)
			}
			continue
		}
		invokerPolicies++
		want := `{"Statement":[{"Action":"lambda:InvokeFunction","Effect":"Allow","Resource":{"Fn::GetAtt":["` + fn + `","Arn"]}}],"Version":"2012-10-17"}`
		if doc, _ := json.Marshal(p["PolicyDocument"]); string(doc) != want {
			t.Errorf("hook invoker policy %s, want %s", doc, want)
		}
	}
	if invokerPolicies != 1 {
		t.Errorf("%d policies on the hook's invoker role, want 1", invokerPolicies)
	}
	fnRole := getAttOf(t, function["Role"])
	role := tpl.Resources("AWS::IAM::Role")[fnRole]
	if role["ManagedPolicyArns"] != nil {
		t.Errorf("the hook function's role has managed policies %v", role["ManagedPolicyArns"])
	}
	for _, p := range tpl.Resources("AWS::IAM::Policy") {
		if slices.ContainsFunc(p["Roles"].([]any), func(r any) bool { return refOf(t, r) == fnRole }) {
			if doc, _ := json.Marshal(p); strings.Contains(string(doc), "secretsmanager") || strings.Contains(string(doc), "kms:") {
				t.Errorf("the hook function may read secrets: %s", doc)
			}
		}
	}
}

// The reachability analysis follows the test listener to the service's
// tasks through the alternate target group, and proves the test port
// admits the hook's security group and nothing else: no client of the load
// balancer reaches it.
func TestBlueGreenTestListenerIsReachableOnlyFromTheHook(t *testing.T) {
	tpl := exampleTemplate(t, stacks.PublicAndInternalStack)
	report, err := reach.Analyze(tpl.JSON())
	if err != nil {
		t.Fatal(err)
	}
	hookSG := findID(t, tpl, typeSecurityGroup, "PublicVerifySecurityGroup")
	var found bool
	for _, p := range report.Paths {
		if p.Listener.Port != stacks.PublicTestListenerPort {
			continue
		}
		found = true
		if !p.Open() {
			t.Errorf("test listener path is closed: %v", p.Failures)
		}
		if p.Service == nil || !strings.HasPrefix(p.Service.ID, "PublicService") {
			t.Errorf("test listener reaches %v, want the Public service", p.Service)
		}
		if len(p.Clients) == 0 {
			t.Error("no rule admits anyone to the test listener")
		}
		for _, r := range p.Clients {
			if r.Peer.Kind != reach.PeerGroup || r.Peer.ID != hookSG {
				t.Errorf("the test listener admits %s (%s); only %s may connect", r.Peer, r.Origin, hookSG)
			}
		}
	}
	if !found {
		t.Fatalf("no path through the test listener on port %d", stacks.PublicTestListenerPort)
	}
}
