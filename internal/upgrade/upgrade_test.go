package upgrade

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	_ "github.com/passthrough-cdk/passthrough/internal/golden" // accepts the -update of `go test ./... -update`
)

// stack is a template with a load balancer, a target group and a listener
// per port (the target group "TG<port>", the listener "L<port>"), which
// edit may change before it is returned.
func stack(t *testing.T, ports []int, edit func(r map[string]any)) map[string]any {
	t.Helper()
	r := map[string]any{
		"LB": res("AWS::ElasticLoadBalancingV2::LoadBalancer", map[string]any{"Scheme": "internet-facing", "Type": "network"}),
	}
	for _, p := range ports {
		tg := fmt.Sprintf("TG%d", p)
		r[tg] = res("AWS::ElasticLoadBalancingV2::TargetGroup", map[string]any{"Port": 8443, "Protocol": "TCP", "TargetType": "ip", "VpcId": "vpc-1"})
		r[fmt.Sprintf("L%d", p)] = res("AWS::ElasticLoadBalancingV2::Listener", map[string]any{
			"LoadBalancerArn": map[string]any{"Ref": "LB"},
			"Port":            p,
			"Protocol":        "TCP",
			"DefaultActions":  []any{map[string]any{"Type": "forward", "TargetGroupArn": map[string]any{"Ref": tg}}},
		})
	}
	if edit != nil {
		edit(r)
	}
	// Through JSON, as templates are read.
	b, err := json.Marshal(map[string]any{"Resources": r})
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func res(typ string, props map[string]any) map[string]any {
	return map[string]any{"Type": typ, "Properties": props}
}

func props(r map[string]any, id string) map[string]any {
	return r[id].(map[string]any)["Properties"].(map[string]any)
}

func analyze(t *testing.T, old, new map[string]any) Result {
	t.Helper()
	results, err := Analyze([]Pair{{Name: "S", Old: old, New: new}})
	if err != nil {
		t.Fatal(err)
	}
	return results[0]
}

func reasons(r Result) string {
	var s []string
	for _, x := range r.Refused {
		s = append(s, x.String())
	}
	return strings.Join(s, "\n")
}

func wantRefusal(t *testing.T, r Result, id, fragment string) {
	t.Helper()
	for _, x := range r.Refused {
		if x.LogicalID == id && strings.Contains(x.Reason, fragment) {
			return
		}
	}
	t.Errorf("no refusal of %s mentioning %q; refusals:\n%s", id, fragment, reasons(r))
}

func wantKinds(t *testing.T, r Result, want ...string) {
	t.Helper()
	if got := r.RefusedKinds(); !slices.Equal(got, want) {
		t.Errorf("refusal kinds %q, want %q", got, want)
	}
}

func wantRoles(t *testing.T, r Result, want ...string) {
	t.Helper()
	if got := r.ReplacedRoles(); !slices.Equal(got, want) {
		t.Errorf("replaced roles %q, want %q; changes: %v", got, want, r.Changes)
	}
}

// The resource specification says a changed Scheme replaces the load
// balancer, and the library propagates it to the listener, whose
// LoadBalancerArn then changes; the kept target group would be attached to
// both load balancers at once, which Elastic Load Balancing refuses.
func TestSchemeChangeReplacesLoadBalancerAndListenersAndFailsOnKeptTargetGroup(t *testing.T) {
	old := stack(t, []int{443}, nil)
	new := stack(t, []int{443}, func(r map[string]any) { props(r, "LB")["Scheme"] = "internal" })
	got := analyze(t, old, new)
	wantRoles(t, got, "load balancer", "listener")
	wantRefusal(t, got, "L443", "cannot be associated with more than one load balancer")
	wantKinds(t, got, KindTargetGroupTwo)
}

// A target group whose logical ID changes with the load balancer's identity
// is created anew, so the new listener attaches a fresh group.
func TestSchemeChangeWithNewTargetGroupGoesThrough(t *testing.T) {
	old := stack(t, []int{443}, nil)
	new := stack(t, []int{443}, func(r map[string]any) {
		props(r, "LB")["Scheme"] = "internal"
		r["TG443b"] = r["TG443"]
		delete(r, "TG443")
		props(r, "L443")["DefaultActions"] = []any{map[string]any{"Type": "forward", "TargetGroupArn": map[string]any{"Ref": "TG443b"}}}
	})
	got := analyze(t, old, new)
	if len(got.Refused) > 0 {
		t.Errorf("refused:\n%s", reasons(got))
	}
	wantRoles(t, got, "load balancer", "listener", "target group")
}

// Two listeners that swap ports: each update in place would take the port
// the other still holds.
func TestListenersSwappingPortsAreRefused(t *testing.T) {
	old := stack(t, []int{443, 8443}, nil)
	new := stack(t, []int{443, 8443}, func(r map[string]any) {
		props(r, "L443")["Port"] = 8443
		props(r, "L8443")["Port"] = 443
	})
	got := analyze(t, old, new)
	wantRoles(t, got)
	wantRefusal(t, got, "L443", "A listener already exists on this port")
	wantRefusal(t, got, "L8443", "A listener already exists on this port")
	wantKinds(t, got, KindListenerPort)
}

// A renamed listener (a new logical ID on the same port) is created before
// the old one is deleted (aws/aws-cdk#13901).
func TestRenamedListenerOnTheSamePortIsRefused(t *testing.T) {
	old := stack(t, []int{443}, nil)
	new := stack(t, []int{443}, func(r map[string]any) {
		r["Renamed"] = r["L443"]
		delete(r, "L443")
	})
	got := analyze(t, old, new)
	wantRoles(t, got, "listener")
	wantRefusal(t, got, "Renamed", "holds before the update")
}

// A listener moved to a free port is updated in place.
func TestListenerPortChangeIsAnUpdateInPlace(t *testing.T) {
	old := stack(t, []int{443}, nil)
	new := stack(t, []int{443}, func(r map[string]any) { props(r, "L443")["Port"] = 9443 })
	got := analyze(t, old, new)
	wantRoles(t, got)
	if len(got.Refused) > 0 || len(got.Changes) != 1 || got.Changes[0].Impact != Update {
		t.Errorf("changes %v, refused:\n%s", got.Changes, reasons(got))
	}
}

// The target group's Port requires replacement; the listener that forwards
// to it is only updated.
func TestTargetGroupPortReplacesTheTargetGroupOnly(t *testing.T) {
	old := stack(t, []int{443}, nil)
	new := stack(t, []int{443}, func(r map[string]any) { props(r, "TG443")["Port"] = 9000 })
	got := analyze(t, old, new)
	wantRoles(t, got, "target group")
	for _, c := range got.Changes {
		if c.LogicalID == "TG443" && !slices.Equal(c.Replacing, []string{"Port"}) {
			t.Errorf("target group replaced by %v, want Port", c.Replacing)
		}
	}
	if len(got.Refused) > 0 {
		t.Errorf("refused:\n%s", reasons(got))
	}
}

// A named load balancer replaced under its name is refused.
func TestReplacingANamedResourceUnderItsNameIsRefused(t *testing.T) {
	named := func(scheme string) func(r map[string]any) {
		return func(r map[string]any) {
			props(r, "LB")["Name"] = "shared"
			props(r, "LB")["Scheme"] = scheme
		}
	}
	got := analyze(t, stack(t, nil, named("internet-facing")), stack(t, nil, named("internal")))
	wantRefusal(t, got, "LB", "does not replace a resource with a custom name")
	wantKinds(t, got, KindCustomName)
}

// An alarm whose logical ID changes while its name stays is created over
// the live alarm, which the deletion of the old logical ID then removes.
func TestAlarmRenamedUnderItsNameIsRefused(t *testing.T) {
	alarm := res("AWS::CloudWatch::Alarm", map[string]any{"AlarmName": "Stack-Api-unhealthy-targets", "Threshold": 0})
	old := stack(t, nil, func(r map[string]any) { r["ApiAlarm"] = alarm })
	new := stack(t, nil, func(r map[string]any) { r["WebAlarm"] = alarm })
	got := analyze(t, old, new)
	wantRoles(t, got, "alarm")
	wantRefusal(t, got, "WebAlarm", "PutMetricAlarm overwrites that alarm")
	wantKinds(t, got, KindNameTaken)
}

// An alarm without a fixed name is not tracked: its replacement gets a
// generated name.
func TestUnnamedAlarmsAreNotTracked(t *testing.T) {
	alarm := res("AWS::CloudWatch::Alarm", map[string]any{"Threshold": 0})
	old := stack(t, nil, func(r map[string]any) { r["ApiAlarm"] = alarm })
	new := stack(t, nil, func(r map[string]any) { r["WebAlarm"] = alarm })
	got := analyze(t, old, new)
	wantRoles(t, got)
	if len(got.Replaced()) != 0 || len(got.Refused) != 0 {
		t.Errorf("replaced %v, refused %v", got.Replaced(), got.Refused)
	}
}

// A changed alarm name replaces the alarm, which is allowed.
func TestRenamedAlarmIsReplaced(t *testing.T) {
	old := stack(t, nil, func(r map[string]any) {
		r["ApiAlarm"] = res("AWS::CloudWatch::Alarm", map[string]any{"AlarmName": "a", "Threshold": 0})
	})
	new := stack(t, nil, func(r map[string]any) {
		r["ApiAlarm"] = res("AWS::CloudWatch::Alarm", map[string]any{"AlarmName": "b", "Threshold": 0})
	})
	got := analyze(t, old, new)
	wantRoles(t, got, "alarm")
	if len(got.Refused) != 0 {
		t.Errorf("refused:\n%s", reasons(got))
	}
}
