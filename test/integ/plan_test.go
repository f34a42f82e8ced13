package integ

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// golden reads a snapshot test's template of an example stack.
func golden(t *testing.T, stack string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "testdata", stack+".template.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tpl map[string]any
	if err := json.Unmarshal(raw, &tpl); err != nil {
		t.Fatal(err)
	}
	return tpl
}

// describe is a check in one line: where from, what it dials, and whether
// it must connect.
func describe(c PathCheck) string {
	s := string(c.From)
	if c.Caller != "" {
		s += " as " + serviceName(c.Caller)
	}
	s += " -> " + c.dialled()
	if c.Target != "" {
		s += " -> " + serviceName(c.Target)
	}
	if c.MutualTLS {
		s += " (mutual TLS)"
	}
	if c.Refused {
		s += " refused"
	}
	return s
}

// Every listener path of every example is checked from where its clients
// are: the items of the issue, read off the golden templates.
func TestPathsOfEveryExample(t *testing.T) {
	for stack, want := range map[string][]string{
		// Architecture 1: every listener from the internet, mutual TLS on
		// Partners.
		"PassthroughPublicServicesFargate": {
			"test process -> LoadBalancerNLBB9F3A217:443 -> Api",
			"test process -> LoadBalancerNLBB9F3A217:8443 -> Partners (mutual TLS)",
			"test process -> LoadBalancerNLBB9F3A217:9443 -> Admin",
		},
		"PassthroughPublicServicesEC2": {
			"test process -> LoadBalancerNLBB9F3A217:443 -> Api",
			"test process -> LoadBalancerNLBB9F3A217:8443 -> Partners (mutual TLS)",
			"test process -> LoadBalancerNLBB9F3A217:9443 -> Admin",
		},
		// Architecture 2 in both directions, from inside the VPC, as the
		// granted caller, at the name in its environment.
		"PassthroughServiceToServiceFargate": {
			"task as Billing -> orders.svc.passthrough.example:443 -> Orders",
			"task as Orders -> billing.svc.passthrough.example:443 -> Billing",
		},
		"PassthroughServiceToServiceEC2": {
			"task as Billing -> orders.svc.passthrough.example:443 -> Orders",
			"task as Orders -> billing.svc.passthrough.example:443 -> Billing",
		},
		// Architecture 3: the public listener from the internet, the
		// private path from Public's tasks at the NLB's private addresses,
		// and the internal port and Public's blue/green test listener
		// refused to the internet (only the TLS check reaches the latter).
		"PassthroughPublicAndInternalFargate": {
			"task as Public -> lb.internal.passthrough.example:8443 -> Internal",
			"test process -> LoadBalancerNLBB9F3A217:443 -> Public",
			"test process -> LoadBalancerNLBB9F3A217:8443 -> Internal refused",
			"test process -> LoadBalancerNLBB9F3A217:9443 -> Public refused",
		},
		// PrivateLink: each internal listener from inside its VPC, and the
		// consumer's call through the endpoint to the provider.
		"PassthroughPrivateLinkProvider": {
			"task as Api -> LoadBalancerNLBB9F3A217:443 -> Api",
		},
		"PassthroughPrivateLinkConsumer": {
			"task as Client -> LoadBalancerNLBB9F3A217:443 -> Client",
			"task as Client -> api.provider.passthrough.example:443",
		},
	} {
		t.Run(stack, func(t *testing.T) {
			checks, err := PlanPaths(golden(t, stack))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range checks {
				got = append(got, describe(c))
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("checks\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
		})
	}
}

// A template whose path is closed fails the plan, before anything is
// deployed: the template tests should have caught it.
func TestPlanRefusesAClosedPath(t *testing.T) {
	tpl := golden(t, "PassthroughServiceToServiceFargate")
	resources := tpl["Resources"].(map[string]any)
	removed := 0
	for id, r := range resources {
		m := r.(map[string]any)
		props, _ := m["Properties"].(map[string]any)
		if m["Type"] == "AWS::EC2::SecurityGroupIngress" && strings.Contains(fmt.Sprint(props["GroupId"]), "BillingLoadBalancer") {
			delete(resources, id)
			removed++
		}
	}
	if removed == 0 {
		t.Fatal("the fixture has no ingress rule of Billing's load balancer to remove")
	}
	if _, err := PlanPaths(tpl); err == nil || !strings.Contains(err.Error(), "is closed in the template") {
		t.Errorf("error %v, want the closed path named", err)
	}
}

// A caller with two addresses on the listener's port cannot tell which is
// the listener's; the check then dials the load balancer's DNS name.
func TestAmbiguousAddressFallsBackToTheLoadBalancer(t *testing.T) {
	tpl := golden(t, "PassthroughPublicAndInternalFargate")
	for _, c := range containers(tpl["Resources"].(map[string]any), "PublicServiceA1BECAD3") {
		c["Environment"] = append(c["Environment"].([]any), map[string]any{"Name": "OTHER_ADDRESS", "Value": "other.example:8443"})
	}
	checks, err := PlanPaths(tpl)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range checks {
		got = append(got, describe(c))
	}
	for _, want := range []string{
		"task as Public -> LoadBalancerNLBB9F3A217:8443 -> Internal",
		"task as Public -> lb.internal.passthrough.example:8443",
		"task as Public -> other.example:8443",
	} {
		if !contains(got, want) {
			t.Errorf("no check %q in %q", want, got)
		}
	}
}
