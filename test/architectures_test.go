package test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/examples/stacks"
	"github.com/passthrough-cdk/passthrough/internal/cdktest"
	"github.com/passthrough-cdk/passthrough/internal/cfn"
	"github.com/passthrough-cdk/passthrough/internal/reach"
)

// Targeted assertions for the examples of architectures 2 and 3 and of
// PrivateLink: every security group rule, every caller's path through a load
// balancer to its targets, the private names callers use, and the endpoint
// service's guard.

const (
	typeRecordSet     = "AWS::Route53::RecordSet"
	typeHostedZone    = "AWS::Route53::HostedZone"
	typeVPCEndpoint   = "AWS::EC2::VPCEndpoint"
	typeEndpointSvc   = "AWS::EC2::VPCEndpointService"
	typeEndpointPerms = "AWS::EC2::VPCEndpointServicePermissions"
)

// exampleTemplate returns the synthesized template of the named example stack.
func exampleTemplate(t *testing.T, name string) *cdktest.Template {
	t.Helper()
	for _, ex := range examples(t) {
		if ex.name == name {
			return cdktest.TemplateFromJSON(t, ex.template)
		}
	}
	t.Fatalf("no example stack %s", name)
	return nil
}

// model reads a template through the template model that the
// reachability analysis and the rollout model share.
func model(t *testing.T, template map[string]any) *cfn.Template {
	t.Helper()
	m, err := cfn.New(template)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// target is the logical ID of the template resource that v refers to, by
// Ref or by Fn::GetAtt of attr.
func target(t *testing.T, m *cfn.Template, v any, attr string) string {
	t.Helper()
	id, ok := m.RefTarget(v, attr)
	if !ok {
		t.Fatalf("%s does not refer to a resource of the template", cfn.Render(v))
	}
	return id
}

// rulePeer renders the other side of a security group rule: a group by its
// short logical ID, an address range as written, or the CIDR block of a VPC
// as "cidr:VPC".
func rulePeer(t *testing.T, m *cfn.Template, r map[string]any) string {
	t.Helper()
	for _, k := range []string{"CidrIp", "CidrIpv6"} {
		switch v := r[k].(type) {
		case string:
			return v
		case map[string]any:
			return "cidr:" + cfn.ShortName(target(t, m, v, "CidrBlock"))
		}
	}
	for _, k := range []string{"SourceSecurityGroupId", "DestinationSecurityGroupId"} {
		if v, ok := r[k]; ok {
			return cfn.ShortName(target(t, m, v, "GroupId"))
		}
	}
	t.Fatalf("rule %v names no peer", r)
	return ""
}

func ruleString(t *testing.T, m *cfn.Template, dir, group string, r map[string]any) string {
	arrow := "<-"
	if dir == "egress" {
		arrow = "->"
	}
	return fmt.Sprintf("%s %s %s %v %v-%v", cfn.ShortName(group), arrow, rulePeer(t, m, r), r["IpProtocol"], r["FromPort"], r["ToPort"])
}

// rules lists every ingress or egress rule of the template as written,
// inline or separate, as "GROUP <- PEER PROTOCOL FROM-TO" (ingress) or
// "GROUP -> PEER ..." (egress), sorted.
func rules(t *testing.T, tpl *cdktest.Template, dir string) []string {
	t.Helper()
	m := model(t, tpl.JSON())
	inline, separate := "SecurityGroupIngress", cfn.TypeIngress
	if dir == "egress" {
		inline, separate = "SecurityGroupEgress", cfn.TypeEgress
	}
	var out []string
	for _, sg := range m.OfType(cfn.TypeSecurityGroup) {
		for _, r := range cfn.List(sg.Props[inline]) {
			out = append(out, ruleString(t, m, dir, sg.ID, cfn.Object(r)))
		}
	}
	for _, r := range m.OfType(separate) {
		out = append(out, ruleString(t, m, dir, target(t, m, r.Props["GroupId"], "GroupId"), r.Props))
	}
	slices.Sort(out)
	return out
}

func sameList(t *testing.T, what string, got, want []string) {
	t.Helper()
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s mismatch\ngot:\n  %s\nwant:\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// Each new example opens exactly the paths of its architecture: clients to
// listener ports, callers to their callee's listener port, load balancers to
// their targets, and HTTPS out of the tasks; nothing else.
func TestArchitecturesOpenExactlyTheirPaths(t *testing.T) {
	noEgress := "255.255.255.255/32 icmp 252-0"
	// Path MTU discovery's ICMP message, into every load balancer's group.
	pathMTU := " <- 0.0.0.0/0 icmp 3-4"
	cases := []struct {
		stack           string
		ingress, egress []string
	}{
		{
			stack: stacks.ServiceToServiceFargateStack,
			ingress: []string{
				"OrdersLoadBalancerSecurityGroup <- BillingSecurityGroup tcp 443-443",
				"OrdersLoadBalancerSecurityGroup" + pathMTU,
				"BillingLoadBalancerSecurityGroup" + pathMTU,
				"OrdersSecurityGroup <- OrdersLoadBalancerSecurityGroup tcp 8443-8443",
				"BillingLoadBalancerSecurityGroup <- OrdersSecurityGroup tcp 443-443",
				"BillingSecurityGroup <- BillingLoadBalancerSecurityGroup tcp 8443-8443",
			},
			egress: []string{
				"OrdersLoadBalancerSecurityGroup -> " + noEgress,
				"OrdersLoadBalancerSecurityGroup -> OrdersSecurityGroup tcp 8443-8443",
				"OrdersSecurityGroup -> 0.0.0.0/0 tcp 443-443",
				"OrdersSecurityGroup -> BillingLoadBalancerSecurityGroup tcp 443-443",
				"BillingLoadBalancerSecurityGroup -> " + noEgress,
				"BillingLoadBalancerSecurityGroup -> BillingSecurityGroup tcp 8443-8443",
				"BillingSecurityGroup -> 0.0.0.0/0 tcp 443-443",
				"BillingSecurityGroup -> OrdersLoadBalancerSecurityGroup tcp 443-443",
			},
		},
		{
			stack: stacks.ServiceToServiceEC2Stack,
			ingress: []string{
				"OrdersLoadBalancerSecurityGroup <- BillingClusterInstanceSecurityGroup tcp 443-443",
				"OrdersLoadBalancerSecurityGroup" + pathMTU,
				"BillingLoadBalancerSecurityGroup" + pathMTU,
				"OrdersClusterInstanceSecurityGroup <- OrdersLoadBalancerSecurityGroup tcp 30000-32767",
				"BillingLoadBalancerSecurityGroup <- OrdersClusterInstanceSecurityGroup tcp 443-443",
				"BillingClusterInstanceSecurityGroup <- BillingLoadBalancerSecurityGroup tcp 30000-32767",
			},
			egress: []string{
				"OrdersLoadBalancerSecurityGroup -> " + noEgress,
				"OrdersLoadBalancerSecurityGroup -> OrdersClusterInstanceSecurityGroup tcp 30000-32767",
				"OrdersClusterInstanceSecurityGroup -> 0.0.0.0/0 tcp 443-443",
				"OrdersClusterInstanceSecurityGroup -> BillingLoadBalancerSecurityGroup tcp 443-443",
				"BillingLoadBalancerSecurityGroup -> " + noEgress,
				"BillingLoadBalancerSecurityGroup -> BillingClusterInstanceSecurityGroup tcp 30000-32767",
				"BillingClusterInstanceSecurityGroup -> 0.0.0.0/0 tcp 443-443",
				"BillingClusterInstanceSecurityGroup -> OrdersLoadBalancerSecurityGroup tcp 443-443",
			},
		},
		{
			// The internal listener (8443) admits Public's tasks only; the
			// internet reaches the public listener (443) only; Public's
			// test listener (9443) admits its TLS verification hook only,
			// which may send nothing else.
			stack: stacks.PublicAndInternalStack,
			ingress: []string{
				"LoadBalancerSecurityGroup <- 0.0.0.0/0 tcp 443-443",
				"LoadBalancerSecurityGroup" + pathMTU,
				"LoadBalancerSecurityGroup <- PublicSecurityGroup tcp 8443-8443",
				"LoadBalancerSecurityGroup <- PublicVerifySecurityGroup tcp 9443-9443",
				"PublicSecurityGroup <- LoadBalancerSecurityGroup tcp 8443-8443",
				"InternalSecurityGroup <- LoadBalancerSecurityGroup tcp 8443-8443",
			},
			egress: []string{
				"LoadBalancerSecurityGroup -> " + noEgress,
				"LoadBalancerSecurityGroup -> PublicSecurityGroup tcp 8443-8443",
				"LoadBalancerSecurityGroup -> InternalSecurityGroup tcp 8443-8443",
				"PublicSecurityGroup -> 0.0.0.0/0 tcp 443-443",
				"PublicSecurityGroup -> LoadBalancerSecurityGroup tcp 8443-8443",
				"InternalSecurityGroup -> 0.0.0.0/0 tcp 443-443",
				"PublicVerifySecurityGroup -> " + noEgress,
				"PublicVerifySecurityGroup -> LoadBalancerSecurityGroup tcp 9443-9443",
			},
		},
		{
			stack: stacks.PrivateLinkProviderStack,
			ingress: []string{
				"LoadBalancerSecurityGroup <- cidr:ClusterVpc tcp 443-443",
				"LoadBalancerSecurityGroup" + pathMTU,
				"ApiSecurityGroup <- LoadBalancerSecurityGroup tcp 8443-8443",
			},
			egress: []string{
				"LoadBalancerSecurityGroup -> " + noEgress,
				"LoadBalancerSecurityGroup -> ApiSecurityGroup tcp 8443-8443",
				"ApiSecurityGroup -> 0.0.0.0/0 tcp 443-443",
			},
		},
		{
			// The endpoint admits the Client's tasks only, not the VPC.
			stack: stacks.PrivateLinkConsumerStack,
			ingress: []string{
				"LoadBalancerSecurityGroup <- cidr:ClusterVpc tcp 443-443",
				"LoadBalancerSecurityGroup" + pathMTU,
				"ClientSecurityGroup <- LoadBalancerSecurityGroup tcp 8443-8443",
				"EndpointSecurityGroup <- ClientSecurityGroup tcp 443-443",
			},
			egress: []string{
				"LoadBalancerSecurityGroup -> " + noEgress,
				"LoadBalancerSecurityGroup -> ClientSecurityGroup tcp 8443-8443",
				"ClientSecurityGroup -> 0.0.0.0/0 tcp 443-443",
				"ClientSecurityGroup -> EndpointSecurityGroup tcp 443-443",
				// aws-cdk-lib's own placeholder: the group sends nothing.
				"EndpointSecurityGroup -> 255.255.255.255/32 icmp 252-86",
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.stack, func(t *testing.T) {
			tpl := exampleTemplate(t, tc.stack)
			sameList(t, "ingress rules", rules(t, tpl, "ingress"), tc.ingress)
			sameList(t, "egress rules", rules(t, tpl, "egress"), tc.egress)
		})
	}
}

// hasRule tells whether the template has exactly this rule.
func hasRule(t *testing.T, tpl *cdktest.Template, dir, rule string) bool {
	return slices.Contains(rules(t, tpl, dir), rule)
}

// followPath walks caller -> load balancer listener -> targets: the caller's
// group may send to the load balancer's group on the listener port, the
// load balancer's group admits it there, a TCP listener on that port
// forwards to a target group, and the load balancer may reach that group's
// targets, which admit it, on the target port (the container port for ip
// targets, the dynamic host port range for instance targets). The way from
// the listener to the targets' security group is the reachability
// analysis's.
func followPath(t *testing.T, tpl *cdktest.Template, callerGroup, loadBalancer string, port int) {
	t.Helper()
	report, err := reach.Analyze(tpl.JSON())
	if err != nil {
		t.Fatal(err)
	}
	var lb *reach.LoadBalancer
	for _, x := range report.LoadBalancers {
		if x.ID == loadBalancer {
			lb = x
		}
	}
	if lb == nil || len(lb.SecurityGroups) == 0 {
		t.Fatalf("no load balancer %s with a security group", loadBalancer)
	}
	lbGroup, caller := cfn.ShortName(lb.SecurityGroups[0]), cfn.ShortName(callerGroup)
	for _, want := range []struct{ dir, rule string }{
		{"egress", fmt.Sprintf("%s -> %s tcp %d-%d", caller, lbGroup, port, port)},
		{"ingress", fmt.Sprintf("%s <- %s tcp %d-%d", lbGroup, caller, port, port)},
	} {
		if !hasRule(t, tpl, want.dir, want.rule) {
			t.Errorf("caller path: no %s rule %s", want.dir, want.rule)
		}
	}
	var listener *reach.Listener
	for _, l := range report.Listeners {
		if l.LoadBalancer == loadBalancer && l.Port == port {
			listener = l
		}
	}
	if listener == nil {
		t.Fatalf("load balancer %s has no listener on port %d", loadBalancer, port)
	}
	if listener.Protocol != "TCP" {
		t.Errorf("listener on port %d is %s, want TCP", port, listener.Protocol)
	}
	paths := report.PathsOf(listener.ID)
	if len(paths) != 1 || paths[0].TargetGroup == nil || paths[0].Service == nil ||
		len(paths[0].Service.Placements) != 1 || len(paths[0].Service.Placements[0].SecurityGroups) == 0 {
		t.Fatalf("listener %s: paths %v, want one, to one service whose targets have a security group", listener.ID, paths)
	}
	tg := paths[0].TargetGroup
	from, to := tg.Port, tg.Port
	if tg.TargetType == "instance" {
		from, to = 30000, 32767
	}
	targets := cfn.ShortName(paths[0].Service.Placements[0].SecurityGroups[0])
	for _, want := range []struct{ dir, rule string }{
		{"egress", fmt.Sprintf("%s -> %s tcp %d-%d", lbGroup, targets, from, to)},
		{"ingress", fmt.Sprintf("%s <- %s tcp %d-%d", targets, lbGroup, from, to)},
	} {
		if !hasRule(t, tpl, want.dir, want.rule) {
			t.Errorf("target path: no %s rule %s", want.dir, want.rule)
		}
	}
}

// environment returns the plain environment of the container of the task
// definition whose logical ID starts with prefix, values JSON-encoded.
func environment(t *testing.T, tpl *cdktest.Template, prefix string) map[string]string {
	t.Helper()
	for id, c := range containers(tpl) {
		if !strings.HasPrefix(id, prefix) {
			continue
		}
		out := map[string]string{}
		for k, v := range nameValues(c["Environment"]) {
			raw, _ := json.Marshal(v)
			out[k] = string(raw)
		}
		return out
	}
	t.Fatalf("no task definition %s*", prefix)
	return nil
}

// findID returns the one logical ID of type typ that starts with prefix.
func findID(t *testing.T, tpl *cdktest.Template, typ, prefix string) string {
	t.Helper()
	var found []string
	for id := range tpl.Resources(typ) {
		if strings.HasPrefix(id, prefix) {
			found = append(found, id)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d resources %s* of type %s, want 1: %v", len(found), prefix, typ, found)
	}
	return found[0]
}

// Architecture 2: each service reaches the other one through the other's
// internal load balancer, by a name in the private hosted zone that aliases
// it, and by nothing else.
func TestServiceToServiceCallersReachEachOtherThroughTheListener(t *testing.T) {
	for _, name := range []string{stacks.ServiceToServiceFargateStack, stacks.ServiceToServiceEC2Stack} {
		t.Run(name, func(t *testing.T) {
			tpl := exampleTemplate(t, name)
			tpl.Count(typeLoadBalancer, 2)
			tpl.CountWith(typeLoadBalancer, map[string]any{"Scheme": "internal", "Type": "network"}, 2)
			tpl.Count("AWS::ECS::Cluster", 2)
			tpl.Count("AWS::EC2::VPC", 1)
			calls := []struct{ caller, callee, env, host string }{
				{"Orders", "Billing", "BILLING_ADDRESS", "billing." + stacks.ServiceZoneName},
				{"Billing", "Orders", "ORDERS_ADDRESS", "orders." + stacks.ServiceZoneName},
			}
			for _, c := range calls {
				groupPrefix := c.caller + "SecurityGroup"
				if strings.HasSuffix(name, "EC2") {
					groupPrefix = c.caller + "ClusterInstanceSecurityGroup"
				}
				callerGroup := findID(t, tpl, typeSecurityGroup, groupPrefix)
				lb := findID(t, tpl, typeLoadBalancer, c.callee+"LoadBalancerNLB")
				followPath(t, tpl, callerGroup, lb, 443)

				// The name the caller is given aliases the callee's load
				// balancer in the VPC's private zone.
				if got, want := environment(t, tpl, c.caller+"TaskDefinition")[c.env], `"`+c.host+`:443"`; got != want {
					t.Errorf("%s: %s = %s, want %s", c.caller, c.env, got, want)
				}
				tpl.Has(typeRecordSet, map[string]any{
					"Name": c.host + ".",
					"Type": "A",
					"AliasTarget": map[string]any{
						"DNSName":      map[string]any{"Fn::GetAtt": []any{lb, "DNSName"}},
						"HostedZoneId": map[string]any{"Fn::GetAtt": []any{lb, "CanonicalHostedZoneID"}},
					},
				})
			}
			tpl.Has(typeHostedZone, map[string]any{
				"Name": stacks.ServiceZoneName + ".",
				"VPCs": []any{map[string]any{"VPCId": ref(findID(t, tpl, "AWS::EC2::VPC", "OrdersClusterVpc")), "VPCRegion": ref("AWS::Region")}},
			})
		})
	}
}

func ref(id string) map[string]any { return map[string]any{"Ref": id} }

// Architecture 3: the internet reaches Public on 443; Public's tasks reach
// Internal on 8443 through the same load balancer, at its private addresses,
// which a custom resource reads from the load balancer's network interfaces,
// one per subnet, and publishes in the private hosted zone.
func TestPublicAndInternalShareOneLoadBalancer(t *testing.T) {
	tpl := exampleTemplate(t, stacks.PublicAndInternalStack)
	tpl.Count(typeLoadBalancer, 1)
	lb := findID(t, tpl, typeLoadBalancer, "LoadBalancerNLB")
	tpl.Has(typeLoadBalancer, map[string]any{"Scheme": "internet-facing"})
	// Public deploys blue/green: a test listener and an alternate target
	// group besides each service's own.
	tpl.Count(typeListener, 3)
	tpl.Count(typeTargetGroup, 3)

	// The internal port is open to Public's tasks, not to the internet.
	lbGroup := findID(t, tpl, typeSecurityGroup, "LoadBalancerSecurityGroup")
	for _, r := range rules(t, tpl, "ingress") {
		if strings.HasPrefix(r, cfn.ShortName(lbGroup)+" <- ") && strings.Contains(r, " 8443-8443") && r != cfn.ShortName(lbGroup)+" <- PublicSecurityGroup tcp 8443-8443" {
			t.Errorf("the internal listener port admits %s", r)
		}
	}
	followPath(t, tpl, findID(t, tpl, typeSecurityGroup, "PublicSecurityGroup"), lb, stacks.InternalListenerPort)

	host := stacks.InternalRecordName + "." + stacks.InternalZoneName
	if got, want := environment(t, tpl, "PublicTaskDefinition")["INTERNAL_ADDRESS"], fmt.Sprintf(`"%s:%d"`, host, stacks.InternalListenerPort); got != want {
		t.Errorf("INTERNAL_ADDRESS = %s, want %s", got, want)
	}
	if env := environment(t, tpl, "InternalTaskDefinition"); env["INTERNAL_ADDRESS"] != "" {
		t.Errorf("Internal was given an address to call: %v", env)
	}

	// The record holds the addresses the lookup returns, one per subnet of
	// the load balancer, in the private zone of the VPC; the lookup reads
	// the load balancer's full name and subnets.
	lookup := findID(t, tpl, "Custom::PassthroughPrivateAddresses", "LoadBalancerPrivateAddressLookup")
	subnets := tpl.Resources(typeLoadBalancer)[lb]["Subnets"].([]any)
	var addresses []any
	for i := range subnets {
		addresses = append(addresses, map[string]any{"Fn::GetAtt": []any{lookup, fmt.Sprintf("Address%d", i)}})
	}
	tpl.Has(typeRecordSet, map[string]any{
		"Name":            host + ".",
		"Type":            "A",
		"ResourceRecords": addresses,
		"HostedZoneId":    ref(findID(t, tpl, typeHostedZone, "Zone")),
	})
	tpl.Has(typeHostedZone, map[string]any{
		"Name": stacks.InternalZoneName + ".",
		"VPCs": []any{map[string]any{"VPCId": ref(findID(t, tpl, "AWS::EC2::VPC", "ClusterVpc")), "VPCRegion": ref("AWS::Region")}},
	})
	fn := findID(t, tpl, "AWS::Lambda::Function", "PassthroughPrivateAddressLookup")
	tpl.Has("Custom::PassthroughPrivateAddresses", map[string]any{
		"ServiceToken":         map[string]any{"Fn::GetAtt": []any{fn, "Arn"}},
		"LoadBalancerFullName": map[string]any{"Fn::GetAtt": []any{lb, "LoadBalancerFullName"}},
		"Subnets":              subnets,
	})

	// The lookup may read network interfaces in the stack's Region, and do
	// nothing else.
	var policies []string
	for _, p := range tpl.Resources("AWS::IAM::Policy") {
		raw, _ := json.Marshal(p["PolicyDocument"])
		// The blue/green hook's role reads interfaces too, to attach its
		// function to the VPC (TestBlueGreenExampleHookAndPermissions).
		if strings.Contains(string(raw), "ec2:Describe") && !strings.Contains(string(raw), "PublicVerifyLogs") {
			policies = append(policies, string(raw))
		}
	}
	logGroup := findID(t, tpl, "AWS::Logs::LogGroup", "PassthroughPrivateAddressLookupLogs")
	want := `{"Statement":[{"Action":"ec2:DescribeNetworkInterfaces","Condition":{"StringEquals":{"aws:RequestedRegion":{"Ref":"AWS::Region"}}},"Effect":"Allow","Resource":"*"},` +
		`{"Action":["logs:CreateLogStream","logs:PutLogEvents"],"Effect":"Allow","Resource":{"Fn::GetAtt":["` + logGroup + `","Arn"]}}],"Version":"2012-10-17"}`
	if len(policies) != 1 || policies[0] != want {
		t.Errorf("lookup policies %v, want exactly %s", policies, want)
	}
	if role := tpl.Resources("AWS::IAM::Role")[findID(t, tpl, "AWS::IAM::Role", "PassthroughPrivateAddressLookupRole")]; role["ManagedPolicyArns"] != nil {
		t.Errorf("lookup role has managed policies %v", role["ManagedPolicyArns"])
	}
	// Its function keeps its logs for a bounded time.
	logs, _ := tpl.Resources("AWS::Lambda::Function")[fn]["LoggingConfig"].(map[string]any)
	if group := tpl.Resources("AWS::Logs::LogGroup")[refOf(t, logs["LogGroup"])]; group == nil || group["RetentionInDays"] == nil {
		t.Errorf("lookup function log group %v has no retention", logs)
	}
}

// Client IP preservation is off on every target group of the new examples,
// set explicitly: a caller whose connection the load balancer hands to a
// target on the caller's own instance (hairpinning) would otherwise time
// out, and the targets admit the load balancer's group either way.
func TestArchitecturesTurnClientIPPreservationOff(t *testing.T) {
	for _, name := range []string{stacks.ServiceToServiceFargateStack, stacks.ServiceToServiceEC2Stack, stacks.PublicAndInternalStack, stacks.PrivateLinkProviderStack, stacks.PrivateLinkConsumerStack} {
		t.Run(name, func(t *testing.T) {
			tpl := exampleTemplate(t, name)
			groups := tpl.Resources(typeTargetGroup)
			if len(groups) == 0 {
				t.Fatal("no target group")
			}
			for id, tg := range groups {
				found := false
				for _, a := range tg["TargetGroupAttributes"].([]any) {
					m := a.(map[string]any)
					if m["Key"] == "preserve_client_ip.enabled" {
						found = true
						if m["Value"] != "false" {
							t.Errorf("target group %s preserves client IPs: %v", id, m["Value"])
						}
					}
				}
				if !found {
					t.Errorf("target group %s leaves client IP preservation to the target type's default", id)
				}
			}
		})
	}
}

// PrivateLink, provider side: the internal load balancer is an endpoint
// service that holds every connection for acceptance and allows the
// provider's own account only; its security group does not filter
// PrivateLink traffic, which the consumers' endpoint groups do.
func TestPrivateLinkProviderExposesItsLoadBalancer(t *testing.T) {
	tpl := exampleTemplate(t, stacks.PrivateLinkProviderStack)
	lb := findID(t, tpl, typeLoadBalancer, "LoadBalancerNLB")
	tpl.Has(typeLoadBalancer, map[string]any{
		"Scheme": "internal",
		"EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic": "off",
	})
	tpl.Count(typeEndpointSvc, 1)
	svc := findID(t, tpl, typeEndpointSvc, "EndpointService")
	tpl.Has(typeEndpointSvc, map[string]any{
		"AcceptanceRequired":      true,
		"NetworkLoadBalancerArns": []any{ref(lb)},
	})
	tpl.Has(typeEndpointPerms, map[string]any{
		"ServiceId": ref(svc),
		"AllowedPrincipals": []any{map[string]any{"Fn::Join": []any{"", []any{
			"arn:", ref("AWS::Partition"), ":iam::", ref("AWS::AccountId"), ":root",
		}}}},
	})
	outputs, _ := tpl.JSON()["Outputs"].(map[string]any)
	found := false
	for _, o := range outputs {
		v, _ := json.Marshal(o.(map[string]any)["Value"])
		found = found || string(v) == `{"Fn::Join":[".",["com.amazonaws.vpce",{"Ref":"AWS::Region"},{"Ref":"`+svc+`"}]]}`
	}
	if !found {
		t.Errorf("no output holds the endpoint service's name: %v", outputs)
	}
}

// PrivateLink, consumer side: an interface endpoint to the service named in
// context (a placeholder without it), open to the Client's tasks only and
// named in the consumer's private zone, which the Client finds in
// PROVIDER_ADDRESS.
func TestPrivateLinkConsumerReachesTheProviderThroughItsEndpoint(t *testing.T) {
	tpl := exampleTemplate(t, stacks.PrivateLinkConsumerStack)
	endpoint := findID(t, tpl, typeVPCEndpoint, "ProviderEndpoint")
	endpointGroup := findID(t, tpl, typeSecurityGroup, "EndpointSecurityGroup")
	tpl.Has(typeVPCEndpoint, map[string]any{
		"VpcEndpointType":  "Interface",
		"ServiceName":      stacks.EndpointServiceNamePlaceholder,
		"SecurityGroupIds": []any{map[string]any{"Fn::GetAtt": []any{endpointGroup, "GroupId"}}},
	})
	client := findID(t, tpl, typeSecurityGroup, "ClientSecurityGroup")
	for _, want := range []struct{ dir, rule string }{
		{"egress", fmt.Sprintf("%s -> %s tcp 443-443", cfn.ShortName(client), cfn.ShortName(endpointGroup))},
		{"ingress", fmt.Sprintf("%s <- %s tcp 443-443", cfn.ShortName(endpointGroup), cfn.ShortName(client))},
	} {
		if !hasRule(t, tpl, want.dir, want.rule) {
			t.Errorf("no %s rule %s", want.dir, want.rule)
		}
	}
	host := "api." + stacks.ProviderZoneName
	if got, want := environment(t, tpl, "ClientTaskDefinition")["PROVIDER_ADDRESS"], `"`+host+`:443"`; got != want {
		t.Errorf("PROVIDER_ADDRESS = %s, want %s", got, want)
	}
	record := tpl.Resources(typeRecordSet)[findID(t, tpl, typeRecordSet, "ProviderRecord")]
	raw, _ := json.Marshal(record)
	if record["Name"] != host+"." || !strings.Contains(string(raw), `"`+endpoint+`","DnsEntries"`) {
		t.Errorf("record %s does not alias %s to the endpoint", raw, host)
	}

	// The service name comes from context.
	ctx := cdktest.AppContext(t)
	name := "com.amazonaws.vpce.eu-west-1.vpce-svc-0123456789abcdef0"
	ctx[stacks.EndpointServiceNameContextKey] = name
	app := cdktest.NewApp(t, ctx)
	stacks.All(app)
	withContext := cdktest.TemplateFromJSON(t, cdktest.Synth(t, app).GetStackByName(jsii.String(stacks.PrivateLinkConsumerStack)).Template().(map[string]any))
	withContext.Has(typeVPCEndpoint, map[string]any{"ServiceName": name})
}

// isCallerIngress tells whether a separate ingress rule admits a caller's
// security group into a load balancer's group on one of its listener ports
// (Service.GrantConnect), or into the group of an interface endpoint that
// the stack creates to reach a provider over PrivateLink, on one port.
func isCallerIngress(t *testing.T, tpl *cdktest.Template, rule map[string]any, lbGroups map[string]bool, listenerPorts []float64) bool {
	t.Helper()
	from, to := rule["FromPort"], rule["ToPort"]
	port, ok := from.(float64)
	if !ok || from != to || rule["SourceSecurityGroupId"] == nil {
		return false
	}
	dst := getAttOf(t, rule["GroupId"])
	if lbGroups[dst] {
		return slices.Contains(listenerPorts, port)
	}
	for _, ep := range tpl.Resources(typeVPCEndpoint) {
		if ep["VpcEndpointType"] != "Interface" {
			continue
		}
		groups, _ := ep["SecurityGroupIds"].([]any)
		for _, g := range groups {
			if getAttOf(t, g) == dst {
				return true
			}
		}
	}
	return false
}
