package upgrade

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	_ "github.com/passthrough-cdk/passthrough/internal/golden" // accepts the -update of `go test ./... -update`
)

// stack is a template with a load balancer, a target group and a listener
// per port (the target group "TG<port>", the listener "L<port>"), which
// edit may change before it is returned.
func stack(ports []int, edit func(r map[string]any)) map[string]any {
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
		panic(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

func res(typ string, props map[string]any) map[string]any {
	return map[string]any{"Type": typ, "Properties": props}
}

func props(r map[string]any, id string) map[string]any {
	return r[id].(map[string]any)["Properties"].(map[string]any)
}

// updates are the tests' updates by name: the template before and after.
var updates = map[string]func() (old, new map[string]any){}

// update registers an update under name, for analyze.
func update(name string, f func() (old, new map[string]any)) string {
	updates[name] = f
	return name
}

var (
	once     sync.Once
	analyzed map[string]Result
	failed   error
)

// analyze returns the classification of the update registered under name.
// The first call classifies every registered update with one Node.js
// process, as the tests of the examples do.
func analyze(t *testing.T, name string) Result {
	t.Helper()
	once.Do(func() {
		var pairs []Pair
		for n, f := range updates {
			old, new := f()
			pairs = append(pairs, Pair{Name: n, Old: old, New: new})
		}
		results, err := Analyze(pairs)
		failed = err
		analyzed = map[string]Result{}
		for _, r := range results {
			analyzed[r.Name] = r
		}
	})
	if failed != nil {
		t.Fatal(failed)
	}
	r, ok := analyzed[name]
	if !ok {
		t.Fatalf("no update %q", name)
	}
	return r
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
var schemeChange = update("scheme change", func() (old, new map[string]any) {
	return stack([]int{443}, nil), stack([]int{443}, func(r map[string]any) { props(r, "LB")["Scheme"] = "internal" })
})

func TestSchemeChangeReplacesLoadBalancerAndListenersAndFailsOnKeptTargetGroup(t *testing.T) {
	got := analyze(t, schemeChange)
	wantRoles(t, got, "load balancer", "listener")
	wantRefusal(t, got, "L443", "cannot be associated with more than one load balancer")
	wantKinds(t, got, KindTargetGroupTwo)
}

// A target group whose logical ID changes with the load balancer's identity
// is created anew, so the new listener attaches a fresh group.
var schemeChangeNewTargetGroup = update("scheme change, new target group", func() (old, new map[string]any) {
	return stack([]int{443}, nil), stack([]int{443}, func(r map[string]any) {
		props(r, "LB")["Scheme"] = "internal"
		r["TG443b"] = r["TG443"]
		delete(r, "TG443")
		props(r, "L443")["DefaultActions"] = []any{map[string]any{"Type": "forward", "TargetGroupArn": map[string]any{"Ref": "TG443b"}}}
	})
})

func TestSchemeChangeWithNewTargetGroupGoesThrough(t *testing.T) {
	got := analyze(t, schemeChangeNewTargetGroup)
	if len(got.Refused) > 0 {
		t.Errorf("refused:\n%s", reasons(got))
	}
	wantRoles(t, got, "load balancer", "listener", "target group")
}

// Two listeners that swap ports: each update in place would take the port
// the other still holds.
var swap = update("swap", func() (old, new map[string]any) {
	return stack([]int{443, 8443}, nil), stack([]int{443, 8443}, func(r map[string]any) {
		props(r, "L443")["Port"] = 8443
		props(r, "L8443")["Port"] = 443
	})
})

func TestListenersSwappingPortsAreRefused(t *testing.T) {
	got := analyze(t, swap)
	wantRoles(t, got)
	wantRefusal(t, got, "L443", "A listener already exists on this port")
	wantRefusal(t, got, "L8443", "A listener already exists on this port")
	wantKinds(t, got, KindListenerPort)
}

// A renamed listener (a new logical ID on the same port) is created before
// the old one is deleted (aws/aws-cdk#13901).
var renamedListener = update("renamed listener", func() (old, new map[string]any) {
	return stack([]int{443}, nil), stack([]int{443}, func(r map[string]any) {
		r["Renamed"] = r["L443"]
		delete(r, "L443")
	})
})

func TestRenamedListenerOnTheSamePortIsRefused(t *testing.T) {
	got := analyze(t, renamedListener)
	wantRoles(t, got, "listener")
	wantRefusal(t, got, "Renamed", "holds before the update")
}

// A listener moved to a free port is updated in place.
var movedListener = update("moved listener", func() (old, new map[string]any) {
	return stack([]int{443}, nil), stack([]int{443}, func(r map[string]any) { props(r, "L443")["Port"] = 9443 })
})

func TestListenerPortChangeIsAnUpdateInPlace(t *testing.T) {
	got := analyze(t, movedListener)
	wantRoles(t, got)
	if len(got.Refused) > 0 || len(got.Changes) != 1 || got.Changes[0].Impact != Update {
		t.Errorf("changes %v, refused:\n%s", got.Changes, reasons(got))
	}
}

// The target group's Port requires replacement; the listener that forwards
// to it is only updated.
var targetGroupPort = update("target group port", func() (old, new map[string]any) {
	return stack([]int{443}, nil), stack([]int{443}, func(r map[string]any) { props(r, "TG443")["Port"] = 9000 })
})

func TestTargetGroupPortReplacesTheTargetGroupOnly(t *testing.T) {
	got := analyze(t, targetGroupPort)
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
var namedReplacement = update("named replacement", func() (old, new map[string]any) {
	named := func(scheme string) func(r map[string]any) {
		return func(r map[string]any) {
			props(r, "LB")["Name"] = "shared"
			props(r, "LB")["Scheme"] = scheme
		}
	}
	return stack(nil, named("internet-facing")), stack(nil, named("internal"))
})

func TestReplacingANamedResourceUnderItsNameIsRefused(t *testing.T) {
	got := analyze(t, namedReplacement)
	wantRefusal(t, got, "LB", "does not replace a resource with a custom name")
	wantKinds(t, got, KindCustomName)
}

// An alarm whose logical ID changes while its name stays is created over
// the live alarm, which the deletion of the old logical ID then removes.
var alarmUnderItsName = update("alarm renamed under its name", func() (old, new map[string]any) {
	alarm := res("AWS::CloudWatch::Alarm", map[string]any{"AlarmName": "Stack-Api-unhealthy-targets", "Threshold": 0})
	return stack(nil, func(r map[string]any) { r["ApiAlarm"] = alarm }), stack(nil, func(r map[string]any) { r["WebAlarm"] = alarm })
})

func TestAlarmRenamedUnderItsNameIsRefused(t *testing.T) {
	got := analyze(t, alarmUnderItsName)
	wantRoles(t, got, "alarm")
	wantRefusal(t, got, "WebAlarm", "PutMetricAlarm overwrites that alarm")
	wantKinds(t, got, KindNameTaken)
}

// An alarm without a fixed name is not tracked: its replacement gets a
// generated name.
var unnamedAlarm = update("unnamed alarm renamed", func() (old, new map[string]any) {
	alarm := res("AWS::CloudWatch::Alarm", map[string]any{"Threshold": 0})
	return stack(nil, func(r map[string]any) { r["ApiAlarm"] = alarm }), stack(nil, func(r map[string]any) { r["WebAlarm"] = alarm })
})

func TestUnnamedAlarmsAreNotTracked(t *testing.T) {
	got := analyze(t, unnamedAlarm)
	wantRoles(t, got)
	if len(got.Replaced()) != 0 || len(got.Refused) != 0 {
		t.Errorf("replaced %v, refused %v", got.Replaced(), got.Refused)
	}
}

// A changed alarm name replaces the alarm, which is allowed.
var renamedAlarm = update("alarm with a new name", func() (old, new map[string]any) {
	return stack(nil, func(r map[string]any) {
			r["ApiAlarm"] = res("AWS::CloudWatch::Alarm", map[string]any{"AlarmName": "a", "Threshold": 0})
		}), stack(nil, func(r map[string]any) {
			r["ApiAlarm"] = res("AWS::CloudWatch::Alarm", map[string]any{"AlarmName": "b", "Threshold": 0})
		})
})

func TestRenamedAlarmIsReplaced(t *testing.T) {
	got := analyze(t, renamedAlarm)
	wantRoles(t, got, "alarm")
	if len(got.Refused) != 0 {
		t.Errorf("refused:\n%s", reasons(got))
	}
}

// Without Node.js the classification cannot run, and says how to get it.
func TestAnalyzeSaysWhereNodeComesFrom(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := Analyze([]Pair{{Name: "S", Old: stack(nil, nil), New: stack(nil, nil)}})
	if err == nil || !strings.Contains(err.Error(), "make tools") {
		t.Errorf("error %v, want one that names make tools", err)
	}
}
