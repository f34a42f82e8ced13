package passthrough_test

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
)

// warnings returns the messages of the warnings with the given ID, keyed by
// the construct path they are attached to.
func warnings(t *testing.T, stack awscdk.Stack, id string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range *assertions.Annotations_FromStack(stack).FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String(".*"))) {
		msg, _ := m.Entry.Data.(string)
		suffix := " [ack: " + id + "]"
		if len(msg) > len(suffix) && msg[len(msg)-len(suffix):] == suffix {
			out[*m.Id] = msg[:len(msg)-len(suffix)]
		}
	}
	return out
}

// ec23Suppressed tells whether the load balancer's group records cdk-nag's
// AwsSolutions-EC23 suppression.
func ec23Suppressed(t *testing.T, f *fixture, lb *passthrough.LoadBalancer) bool {
	t.Helper()
	resources := f.template(t).JSON()["Resources"].(map[string]any)
	md, _ := resources[logicalID(t, f.stack, lb.SecurityGroup)].(map[string]any)["Metadata"].(map[string]any)
	nag, _ := md["cdk_nag"].(map[string]any)
	rules, _ := nag["rules_to_suppress"].([]any)
	for _, r := range rules {
		if r.(map[string]any)["id"] == "AwsSolutions-EC23" {
			return true
		}
	}
	return false
}

// A listener on an administration port that faces the internet is named,
// with its port and the service's path, in a warning on the service; and
// the load balancer's group no longer hides it from cdk-nag's EC23.
func TestAdministrationPortOnTheInternetIsWarnedAboutAndNotSuppressed(t *testing.T) {
	for _, port := range []float64{22, 3389, 5432, 3306, 6379, 9200, 27017} {
		f := newFixture(t, false)
		f.fargate("Api", 443)
		f.fargate("Admin", port)
		got := warnings(t, f.stack, "passthrough:administrationPortOnInternet")
		if len(got) != 1 || got["/Test/Admin"] == "" {
			t.Fatalf("port %v: warnings %v, want one on /Test/Admin", port, got)
		}
		if port == 22 {
			want := "ListenerPort 22 (SSH) of Test/Admin faces the internet on load balancer Test/LB, open to 0.0.0.0/0: administration and database ports are probed on every internet address; use another listener port, list it in PrivateListenerPorts, or put the service behind an internal load balancer"
			if got["/Test/Admin"] != want {
				t.Errorf("warning\ngot:  %s\nwant: %s", got["/Test/Admin"], want)
			}
		}
		if ec23Suppressed(t, f, f.lb) {
			t.Errorf("port %v: the load balancer's group still suppresses AwsSolutions-EC23", port)
		}
	}
}

// cdk-nag, run by the user, reports the group of a load balancer with an
// administration port on the internet.
func TestCdkNagReportsAnAdministrationPortOnTheInternet(t *testing.T) {
	f := newFixture(t, false)
	f.fargate("Admin", 22)
	f.fargate("Api", 443) // after it: must not bring the suppression back
	awscdk.Aspects_Of(f.stack).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Reports: jsii.Bool(false)}), nil)
	findings := assertions.Annotations_FromStack(f.stack).FindError(jsii.String("/Test/LB/SecurityGroup/Resource"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-EC23")))
	if len(*findings) != 1 {
		t.Errorf("%d AwsSolutions-EC23 findings on the load balancer's group, want 1", len(*findings))
	}
}

// On ordinary listener ports the internet is the design: no warning, and
// EC23 is suppressed on the group with the reason.
func TestOrdinaryInternetListenersAreQuiet(t *testing.T) {
	f := newFixture(t, false)
	f.fargate("Api", 443)
	f.fargate("Partners", 8443)
	if got := warnings(t, f.stack, "passthrough:administrationPortOnInternet"); len(got) != 0 {
		t.Errorf("warnings %v", got)
	}
	if !ec23Suppressed(t, f, f.lb) {
		t.Error("the internet-facing load balancer's group does not record why EC23 is expected")
	}
}

// An administration port in PrivateListenerPorts faces no client range:
// no warning, and the public listener's suppression stays.
func TestPrivateAdministrationPortIsNotWarnedAbout(t *testing.T) {
	f := newFixture(t, false)
	f.lb = passthrough.NewLoadBalancer(f.stack, jsii.String("Shared"), &passthrough.LoadBalancerProps{Vpc: f.cluster.Vpc, PrivateListenerPorts: []float64{5432}})
	f.fargate("Api", 443)
	f.fargate("Db", 5432)
	if got := warnings(t, f.stack, "passthrough:administrationPortOnInternet"); len(got) != 0 {
		t.Errorf("warnings %v", got)
	}
	if !ec23Suppressed(t, f, f.lb) {
		t.Error("a private administration port took the suppression of the public listener away")
	}
}

// An internal load balancer open to any address is reachable from every
// network routed to the VPC: warned about, naming the load balancer.
func TestInternalLoadBalancerOpenToAnyAddressIsWarnedAbout(t *testing.T) {
	f, vpc := dualStackFixture(t)
	passthrough.NewLoadBalancer(f.stack, jsii.String("Open"), &passthrough.LoadBalancerProps{
		Vpc:            vpc,
		InternetFacing: jsii.Bool(false),
		DualStack:      jsii.Bool(true),
		AllowedClients: []awsec2.IPeer{awsec2.Peer_Ipv4(jsii.String("10.0.0.0/8")), awsec2.Peer_AnyIpv6()},
	})
	passthrough.NewLoadBalancer(f.stack, jsii.String("Default"), &passthrough.LoadBalancerProps{Vpc: vpc, InternetFacing: jsii.Bool(false)})
	got := warnings(t, f.stack, "passthrough:internalLoadBalancerOpenToAnyAddress")
	want := map[string]string{"/Test/Open": "internal load balancer Test/Open admits ::/0 (AllowedClients) on its listener ports: every network routed to the VPC (peered VPCs, VPN, Direct Connect, transit gateways) reaches them; name the clients' ranges or security groups instead"}
	if jsonString(got) != jsonString(want) {
		t.Errorf("warnings\ngot:  %v\nwant: %v", got, want)
	}
}
