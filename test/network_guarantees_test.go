package test

import (
	"encoding/json"
	"slices"
	"strconv"
	"testing"

	"github.com/passthrough-cdk/passthrough/internal/cdktest"
	"github.com/passthrough-cdk/passthrough/internal/reach"
)

// Guarantees about what the network lets through, read from the template of
// every example: path MTU discovery, administration ports, PrivateLink
// enforcement, DNS aliases and the private path of architecture 3.

// isPathMTUDiscovery tells whether an ingress rule admits exactly one of
// the path MTU discovery messages (ICMP type 3 code 4, ICMPv6 type 2) from
// any address of its family.
func isPathMTUDiscovery(rule map[string]any) bool {
	for _, m := range reach.PathMTUMessages {
		anyAddress, field := "0.0.0.0/0", "CidrIp"
		if m.IPv6 {
			anyAddress, field = "::/0", "CidrIpv6"
		}
		if rule["IpProtocol"] == m.Protocol && rule[field] == anyAddress &&
			rule["FromPort"] == float64(m.TypeCode.From) && rule["ToPort"] == float64(m.TypeCode.To) {
			return true
		}
	}
	return false
}

// Every load balancer's group admits path MTU discovery's ICMP message from
// any address (and ICMPv6 packet too big when dual-stack), each as a rule of
// its own whose only cdk-nag suppression is AwsSolutions-EC23; no other ICMP
// reaches any group, and the reachability analysis still finds no TCP or UDP
// port open beyond the listeners' paths.
func TestExamplesAdmitPathMTUDiscoveryAndNoOtherICMP(t *testing.T) {
	forEachGuarantee(t, func(t *testing.T, tpl *cdktest.Template) {
		resources := tpl.JSON()["Resources"].(map[string]any)
		want := map[string]int{}
		for id, lb := range tpl.Resources(typeLoadBalancer) {
			groups, _ := lb["SecurityGroups"].([]any)
			if len(groups) != 1 {
				t.Fatalf("load balancer %s has %d security groups, want 1", id, len(groups))
			}
			want[getAttOf(t, groups[0])] = 1
			if lb["IpAddressType"] == "dualstack" {
				want[getAttOf(t, groups[0])] = 2
			}
		}
		got := map[string]int{}
		for id, rule := range tpl.Resources(typeIngress) {
			if p := rule["IpProtocol"]; p != "icmp" && p != "icmpv6" && p != "1" && p != "58" {
				continue
			}
			group := getAttOf(t, rule["GroupId"])
			if !isPathMTUDiscovery(rule) || want[group] == 0 {
				t.Errorf("ingress rule %s admits ICMP other than path MTU discovery into a load balancer's group: %v", id, rule)
				continue
			}
			got[group]++
			md, _ := resources[id].(map[string]any)["Metadata"].(map[string]any)
			nag, _ := md["cdk_nag"].(map[string]any)
			rules, _ := nag["rules_to_suppress"].([]any)
			if len(rules) != 1 || rules[0].(map[string]any)["id"] != "AwsSolutions-EC23" {
				t.Errorf("path MTU rule %s suppresses %v, want AwsSolutions-EC23 only", id, rules)
			}
		}
		for id, sg := range tpl.Resources(typeSecurityGroup) {
			inline, _ := sg["SecurityGroupIngress"].([]any)
			for _, r := range inline {
				if p := r.(map[string]any)["IpProtocol"]; p != "tcp" {
					t.Errorf("security group %s admits %v inline", id, r)
				}
			}
		}
		for group, n := range want {
			if got[group] != n {
				t.Errorf("load balancer group %s has %d path MTU discovery rules, want %d", group, got[group], n)
			}
		}
		report, err := reach.Analyze(tpl.JSON())
		if err != nil {
			t.Fatal(err)
		}
		for _, rule := range report.Ingress {
			if (rule.Protocol == "icmp" || rule.Protocol == "icmpv6") && (rule.Unexplained != "" || len(rule.Serves) != 1) {
				t.Errorf("reachability reads %s as serving %v, unexplained %q", rule, rule.Serves, rule.Unexplained)
			}
			if rule.Protocol != "tcp" && rule.Protocol != "icmp" && rule.Protocol != "icmpv6" {
				t.Errorf("ingress %s is neither TCP nor path MTU discovery", rule)
			}
		}
	})
}

// No example exposes an administration or database port to the internet,
// and no internal load balancer admits any address: the constructs would
// warn, and cdk-nag's EC23 would no longer be suppressed.
func TestExamplesExposeNoAdministrationPort(t *testing.T) {
	administration := []float64{22, 3389, 5432, 3306, 6379, 9200, 27017}
	forEachGuarantee(t, func(t *testing.T, tpl *cdktest.Template) {
		internetFacing := map[string]bool{}
		for id, lb := range tpl.Resources(typeLoadBalancer) {
			internetFacing[id] = lb["Scheme"] != "internal"
		}
		for id, l := range tpl.Resources(typeListener) {
			if internetFacing[refOf(t, l["LoadBalancerArn"])] && slices.Contains(administration, l["Port"].(float64)) {
				t.Errorf("listener %s puts administration port %v on an internet-facing load balancer", id, l["Port"])
			}
		}
		report, err := reach.Analyze(tpl.JSON())
		if err != nil {
			t.Fatal(err)
		}
		for _, lb := range report.LoadBalancers {
			for _, g := range lb.SecurityGroups {
				for _, rule := range report.Ingress {
					if rule.Group == g && !lb.InternetFacing && rule.Peer.AnyAddress() && rule.Protocol == "tcp" {
						t.Errorf("internal load balancer %s admits %s", lb.ID, rule)
					}
				}
			}
		}
	})
}

// Only a load balancer that an endpoint service fronts stops filtering
// PrivateLink traffic with its security group; every other states Elastic
// Load Balancing's default, on.
func TestExamplesEnforceSecurityGroupsOnPrivateLinkUnlessFronted(t *testing.T) {
	forEachGuarantee(t, func(t *testing.T, tpl *cdktest.Template) {
		fronted := map[string]bool{}
		for _, es := range tpl.Resources(typeEndpointSvc) {
			for _, arn := range es["NetworkLoadBalancerArns"].([]any) {
				fronted[refOf(t, arn)] = true
			}
		}
		for id, lb := range tpl.Resources(typeLoadBalancer) {
			want := "on"
			if fronted[id] {
				want = "off"
			}
			if got := lb["EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic"]; got != want {
				t.Errorf("load balancer %s: EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic %v, want %s", id, got, want)
			}
		}
	})
}

// Route 53 aliases of a Network Load Balancer target its own DNS name, not
// "dualstack." + it, which AWS documents for Application and Classic Load
// Balancers only (see nlbAlias in constructs/passthrough/dns.go).
func TestExamplesAliasNetworkLoadBalancersByTheirOwnDNSName(t *testing.T) {
	aliases := 0
	forEachGuarantee(t, func(t *testing.T, tpl *cdktest.Template) {
		for id, r := range tpl.Resources(typeRecordSet) {
			alias, ok := r["AliasTarget"].(map[string]any)
			if !ok {
				continue
			}
			zone, _ := alias["HostedZoneId"].(map[string]any)
			ga, _ := zone["Fn::GetAtt"].([]any)
			if len(ga) != 2 || ga[1] != "CanonicalHostedZoneID" {
				continue
			}
			aliases++
			want := map[string]any{"Fn::GetAtt": []any{ga[0], "DNSName"}}
			if got, _ := json.Marshal(alias["DNSName"]); string(got) != mustJSON(want) {
				t.Errorf("record %s aliases %s, want the load balancer's own DNS name %s", id, got, mustJSON(want))
			}
		}
	})
	if aliases == 0 {
		t.Error("no example aliases a load balancer: the check read nothing")
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// The private addresses of an internet-facing load balancer (architecture
// 3) are looked up from exactly the load balancer's subnets, by its full
// name, and the record holds one address per subnet: the lookup runs again
// when either changes (its properties change), and fails rather than write
// a partial record (tested on the handler in constructs/passthrough).
func TestExamplesLookUpOnePrivateAddressPerSubnet(t *testing.T) {
	lookups := 0
	forEachGuarantee(t, func(t *testing.T, tpl *cdktest.Template) {
		for id, lookup := range tpl.Resources("Custom::PassthroughPrivateAddresses") {
			lookups++
			name, _ := lookup["LoadBalancerFullName"].(map[string]any)["Fn::GetAtt"].([]any)
			if len(name) != 2 || name[1] != "LoadBalancerFullName" {
				t.Fatalf("lookup %s reads %v, not a load balancer's full name", id, lookup["LoadBalancerFullName"])
			}
			lb := tpl.Resources(typeLoadBalancer)[name[0].(string)]
			if lb["Scheme"] == "internal" {
				t.Errorf("lookup %s reads internal load balancer %s, whose DNS name is already private", id, name[0])
			}
			if mustJSON(lookup["Subnets"]) != mustJSON(lb["Subnets"]) {
				t.Errorf("lookup %s reads subnets %s, load balancer %s has %s", id, mustJSON(lookup["Subnets"]), name[0], mustJSON(lb["Subnets"]))
			}
			var want []any
			for i := range lb["Subnets"].([]any) {
				want = append(want, map[string]any{"Fn::GetAtt": []any{id, "Address" + strconv.Itoa(i)}})
			}
			tpl.CountWith(typeRecordSet, map[string]any{"Type": "A", "ResourceRecords": want}, 1)
		}
	})
	if lookups == 0 {
		t.Error("no example looks up private addresses: the check read nothing")
	}
}
