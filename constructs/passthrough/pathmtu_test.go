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

// pathMTURule is the load balancer group's rule for the IPv4 path MTU
// discovery message: ICMP type 3 code 4, from any address.
func pathMTURule(lbSG string) map[string]any {
	return map[string]any{
		"GroupId":     getAtt(lbSG, "GroupId"),
		"IpProtocol":  "icmp",
		"FromPort":    3,
		"ToPort":      4,
		"CidrIp":      "0.0.0.0/0",
		"Description": "Path MTU discovery: ICMP destination unreachable, fragmentation needed (type 3 code 4) from routers on any client path",
	}
}

// nagMetadata is the cdk_nag metadata of a resource, as JSON.
func nagMetadata(t *testing.T, f *fixture, tpl map[string]any, id string) string {
	t.Helper()
	r, _ := tpl["Resources"].(map[string]any)[id].(map[string]any)
	md, _ := r["Metadata"].(map[string]any)
	return jsonString(md["cdk_nag"])
}

// Routers on a client's path, not the clients, send the message that path
// MTU discovery needs, so it is admitted from any address: one ICMP rule of
// its own, whose cdk-nag suppression covers that rule only.
func TestLoadBalancerAdmitsThePathMTUDiscoveryMessageFromAnyAddress(t *testing.T) {
	f := newFixture(t, false)
	f.fargate("Api", 443)
	tpl := f.template(t)
	lbSG := logicalID(t, f.stack, f.lb.SecurityGroup)
	tpl.CountWith(typeIngress, map[string]any{"GroupId": getAtt(lbSG, "GroupId"), "IpProtocol": "icmp"}, 1)
	tpl.Has(typeIngress, pathMTURule(lbSG))
	tpl.CountWith(typeIngress, map[string]any{"IpProtocol": "icmpv6"}, 0)
	rule := logicalID(t, f.stack, f.lb.Node().FindChild(jsii.String("PathMTUDiscovery")))
	want := `{"rules_to_suppress":[{"id":"AwsSolutions-EC23","reason":"Admits only ICMP destination unreachable, fragmentation needed (type 3 code 4) from any address: routers anywhere on a client's path send it for path MTU discovery, which AWS's Network Load Balancer security group guidance admits ICMP for. It opens no TCP or UDP port."}]}`
	if got := nagMetadata(t, f, tpl.JSON(), rule); got != want {
		t.Errorf("path MTU rule's cdk_nag metadata\ngot:  %s\nwant: %s", got, want)
	}
}

// A dual-stack load balancer also admits ICMPv6 packet too big, and the
// two rules count one in each family against the group's quota.
func TestDualStackLoadBalancerAdmitsPacketTooBig(t *testing.T) {
	f, vpc := dualStackFixture(t)
	f.lb = passthrough.NewLoadBalancer(f.stack, jsii.String("Dual"), &passthrough.LoadBalancerProps{Vpc: vpc, DualStack: jsii.Bool(true)})
	tpl := f.template(t)
	lbSG := logicalID(t, f.stack, f.lb.SecurityGroup)
	tpl.Has(typeIngress, map[string]any{
		"GroupId":    getAtt(lbSG, "GroupId"),
		"IpProtocol": "icmpv6",
		"FromPort":   2,
		"ToPort":     -1,
		"CidrIpv6":   "::/0",
	})
	tpl.CountWith(typeIngress, map[string]any{"GroupId": getAtt(lbSG, "GroupId")}, 2)
}

// PathMTUDiscovery false leaves the group without ICMP, and frees the rule
// it would have counted against the quota.
func TestPathMTUDiscoveryCanBeTurnedOff(t *testing.T) {
	f := newFixture(t, false)
	var peers []awsec2.IPeer
	for i := range 60 {
		peers = append(peers, awsec2.Peer_Ipv4(jsii.String("198.51.100."+formatInt(i)+"/32")))
	}
	f.lb = passthrough.NewLoadBalancer(f.stack, jsii.String("Closed"), &passthrough.LoadBalancerProps{
		Vpc:              f.cluster.Vpc,
		AllowedClients:   peers,
		PathMTUDiscovery: jsii.Bool(false),
	})
	f.fargate("Api", 443) // 60 client rules: the quota, with no ICMP rule
	tpl := f.template(t)
	tpl.CountWith(typeIngress, map[string]any{"GroupId": getAtt(logicalID(t, f.stack, f.lb.SecurityGroup), "GroupId")}, 0)
	if f.lb.Node().TryFindChild(jsii.String("PathMTUDiscovery")) != nil {
		t.Error("a path MTU discovery rule exists with PathMTUDiscovery false")
	}
}

// The suppression covers the ICMP rule only: a user's own any-address
// client rule on an internal load balancer is still reported by cdk-nag.
func TestPathMTUSuppressionDoesNotHideClientRules(t *testing.T) {
	f := newFixture(t, false)
	f.lb = passthrough.NewLoadBalancer(f.stack, jsii.String("Internal"), &passthrough.LoadBalancerProps{
		Vpc:            f.cluster.Vpc,
		InternetFacing: jsii.Bool(false),
		AllowedClients: []awsec2.IPeer{awsec2.Peer_AnyIpv4()},
	})
	f.fargate("Api", 443)
	awscdk.Aspects_Of(f.stack).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Reports: jsii.Bool(false)}), nil)
	annotations := assertions.Annotations_FromStack(f.stack)
	findings := annotations.FindError(jsii.String("/Test/Internal/SecurityGroup/Resource"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-EC23")))
	if len(*findings) != 1 {
		t.Errorf("%d AwsSolutions-EC23 findings on the internal load balancer's group, want 1", len(*findings))
	}
	for _, m := range *annotations.FindError(jsii.String("/Test/Internal/PathMTUDiscovery"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))) {
		t.Errorf("finding on the path MTU rule: %v", m.Entry.Data)
	}
}

func formatInt(i int) string {
	return jsonString(i)
}
