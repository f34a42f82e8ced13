package passthrough_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
	"github.com/passthrough-cdk/passthrough/internal/cdktest"
)

// dualStackFixture is a fixture in a VPC with IPv6, without a load balancer.
func dualStackFixture(t *testing.T) (*fixture, awsec2.Vpc) {
	t.Helper()
	f := newFixture(t, false)
	vpc := awsec2.NewVpc(f.stack, jsii.String("DualVpc"), &awsec2.VpcProps{MaxAzs: jsii.Number(2), IpProtocol: awsec2.IpProtocol_DUAL_STACK})
	f.cluster = passthrough.NewCluster(f.stack, jsii.String("DualCluster"), &passthrough.ClusterProps{Vpc: vpc})
	return f, vpc
}

// A dual-stack internet-facing load balancer admits any IPv4 and any IPv6
// address, on its listener ports only.
func TestDualStackLoadBalancerAdmitsIPv4AndIPv6Clients(t *testing.T) {
	f, _ := dualStackFixture(t)
	f.lb = passthrough.NewLoadBalancer(f.stack, jsii.String("Dual"), &passthrough.LoadBalancerProps{Vpc: f.cluster.Vpc, DualStack: jsii.Bool(true)})
	f.fargate("Api", 443)
	f.fargate("Admin", 9443)
	tpl := f.template(t)
	tpl.Has(typeLoadBalancer, map[string]any{
		"IpAddressType":  "dualstack",
		"Scheme":         "internet-facing",
		"SecurityGroups": []any{getAtt(logicalID(t, f.stack, f.lb.SecurityGroup), "GroupId")},
	})
	v6 := func(from float64) map[string]any {
		return map[string]any{"CidrIpv6": "::/0", "IpProtocol": "tcp", "FromPort": from, "ToPort": from, "Description": assertions.Match_AnyValue()}
	}
	tpl.Has(typeSecurityGroup, map[string]any{
		"GroupDescription": assertions.Match_StringLikeRegexp(jsii.String("^Passthrough NLB")),
		"SecurityGroupIngress": []any{
			tcpRule("0.0.0.0/0", 443, 443), v6(443),
			tcpRule("0.0.0.0/0", 9443, 9443), v6(9443),
		},
	})
}

// A dual-stack internal load balancer admits the VPC's IPv4 block and its
// IPv6 block, once the IPv6 block is associated.
func TestDualStackInternalLoadBalancerAdmitsTheVpcsIPv6Block(t *testing.T) {
	f, vpc := dualStackFixture(t)
	f.lb = passthrough.NewLoadBalancer(f.stack, jsii.String("Dual"), &passthrough.LoadBalancerProps{Vpc: vpc, InternetFacing: jsii.Bool(false), DualStack: jsii.Bool(true)})
	f.fargate("Api", 443)
	tpl := f.template(t)
	vpcID := logicalID(t, f.stack, vpc)
	sg := logicalID(t, f.stack, f.lb.SecurityGroup)
	tpl.Has(typeSecurityGroup, map[string]any{
		"GroupDescription": assertions.Match_StringLikeRegexp(jsii.String("^Passthrough NLB")),
		"SecurityGroupIngress": []any{
			map[string]any{"CidrIp": getAtt(vpcID, "CidrBlock"), "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "Description": assertions.Match_AnyValue()},
			map[string]any{"CidrIpv6": map[string]any{"Fn::Select": []any{0, getAtt(vpcID, "Ipv6CidrBlocks")}}, "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "Description": assertions.Match_AnyValue()},
		},
	})
	deps, _ := tpl.JSON()["Resources"].(map[string]any)[sg].(map[string]any)["DependsOn"].([]any)
	found := false
	for _, d := range deps {
		if id, _ := d.(string); len(id) > 0 {
			if r := tpl.JSON()["Resources"].(map[string]any)[id].(map[string]any); r["Type"] == "AWS::EC2::VPCCidrBlock" {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("load balancer group depends on %v, not on the VPC's IPv6 block", deps)
	}
}

// A private listener port admits no client: only callers granted with
// GrantConnect.
func TestPrivateListenerPortAdmitsNoClient(t *testing.T) {
	f := newFixture(t, false)
	f.lb = passthrough.NewLoadBalancer(f.stack, jsii.String("Shared"), &passthrough.LoadBalancerProps{Vpc: f.cluster.Vpc, PrivateListenerPorts: []float64{8443}})
	f.fargate("Public", 443)
	f.fargate("Internal", 8443)
	tpl := f.template(t)
	tpl.Count(typeListener, 2)
	tpl.Has(typeSecurityGroup, map[string]any{
		"GroupDescription":     assertions.Match_StringLikeRegexp(jsii.String("^Passthrough NLB")),
		"SecurityGroupIngress": []any{tcpRule("0.0.0.0/0", 443, 443)},
	})
	tpl.CountWith(typeIngress, map[string]any{"GroupId": getAtt(logicalID(t, f.stack, f.lb.SecurityGroup), "GroupId"), "IpProtocol": "tcp"}, 0)
}

// The default clients of an internal load balancer are a reference that
// cdk-nag's AwsSolutions-EC23 cannot read; the validation failure is
// suppressed for that rule on that group only.
func TestInternalLoadBalancerRecordsWhyEC23CannotReadItsRange(t *testing.T) {
	f := newFixture(t, false)
	public := f.lb
	internal := passthrough.NewLoadBalancer(f.stack, jsii.String("Internal"), &passthrough.LoadBalancerProps{Vpc: f.cluster.Vpc, InternetFacing: jsii.Bool(false)})
	resources := f.template(t).JSON()["Resources"].(map[string]any)
	metadata := func(lb *passthrough.LoadBalancer) string {
		return jsonString(resources[logicalID(t, f.stack, lb.SecurityGroup)].(map[string]any)["Metadata"])
	}
	want := `{"cdk_nag":{"rules_to_suppress":[{"applies_to":["AwsSolutions-EC23"],"id":"CdkNagValidationFailure","reason":"AwsSolutions-EC23 cannot read a CIDR block that is a reference; here it is the VPC's own range, the default clients of an internal load balancer, admitted on listener ports only"}]}}`
	if got := metadata(internal); got != want {
		t.Errorf("internal load balancer group metadata\ngot:  %s\nwant: %s", got, want)
	}
	if got := metadata(public); got == want {
		t.Errorf("internet-facing load balancer group records the internal one's suppression: %s", got)
	}
}

func TestLoadBalancerPropsAreRefusedWithPathAndValue(t *testing.T) {
	runInvalid(t, []invalidCase{
		{"no VPC", func(f *fixture) { passthrough.NewLoadBalancer(f.stack, jsii.String("NoVpc"), nil) }, "passthrough: Test/NoVpc: Vpc: is required"},
		{"empty allowed clients", loadBalancerWith("Closed", passthrough.LoadBalancerProps{AllowedClients: []awsec2.IPeer{}}), "passthrough: Test/Closed: AllowedClients []: is empty, so no client could connect; leave it nil for the default or name at least one peer"},
		{"dual-stack in a VPC without IPv6", loadBalancerWith("Dual", passthrough.LoadBalancerProps{DualStack: jsii.Bool(true)}), "passthrough: Test/Dual: DualStack true: needs IPv6 in the load balancer's subnets, and subnet Test/Cluster/Vpc/PublicSubnet1 has none; create the VPC with IpProtocol awsec2.IpProtocol_DUAL_STACK"},
		{"IPv6 clients of an IPv4 load balancer", loadBalancerWith("V4", passthrough.LoadBalancerProps{AllowedClients: []awsec2.IPeer{awsec2.Peer_AnyIpv4(), awsec2.Peer_AnyIpv6()}}), "passthrough: Test/V4: AllowedClients ::/0: is an IPv6 range, but the load balancer has IPv4 addresses only; set DualStack"},
		{"private listener port out of range", loadBalancerWith("Shared", passthrough.LoadBalancerProps{PrivateListenerPorts: []float64{8443, 70000}}), "passthrough: Test/Shared: PrivateListenerPorts 70000: must be a whole number from 1 to 65535"},
	})
}

// A listener port is claimed by one service, within the quotas of
// listeners per load balancer and of inbound rules per security group.
func TestListenerPortsAreRefusedPastConflictsAndQuotas(t *testing.T) {
	runInvalid(t, []invalidCase{
		{"two services on one listener port", func(f *fixture) { f.fargate("Api", 443); f.fargate("Admin", 443) }, "passthrough: Test/Admin: ListenerPort 443: is already used by Test/Api on load balancer Test/LB; give each service its own listener port"},
		{"more listeners than an NLB allows", func(f *fixture) { services(f, 51) }, "passthrough: Test/S50: ListenerPort 1050: would be listener 51 on load balancer Test/LB, over the quota of 50 listeners per Network Load Balancer"},
		{"more inbound rules than a security group allows", func(f *fixture) { partners(f, peers(21, false), false); services(f, 3) }, "passthrough: Test/S2: ListenerPort 1002: would bring the security group of load balancer Test/Partners to 64 inbound rules (21 allowed clients per listener), over the default quota of 60"},
		{"more IPv6 inbound rules than a security group allows", func(f *fixture) { partners(f, append(peers(1, false), peers(21, true)...), true); services(f, 3) }, "passthrough: Test/S2: ListenerPort 1002: would bring the security group of load balancer Test/Partners to 64 inbound IPv6 rules (22 allowed clients per listener), over the default quota of 60, which IPv6 rules count against apart from IPv4 rules"},
		{"security group clients count as IPv4 and IPv6 rules", func(f *fixture) { partners(f, groups(f, 20), false); services(f, 4) }, "passthrough: Test/S2: ListenerPort 1002: would bring the security group of load balancer Test/Partners to 61 inbound rules (20 allowed clients per listener), over the default quota of 60"},
	})
}

// services adds n Fargate services S0, S1, ... on listener ports 1000, 1001,
// ... of the fixture's load balancer.
func services(f *fixture, n int) {
	for i := range n {
		f.fargate(fmt.Sprintf("S%d", i), float64(1000+i))
	}
}

// peers are n distinct IPv4 or IPv6 ranges.
func peers(n int, v6 bool) []awsec2.IPeer {
	var out []awsec2.IPeer
	for i := range n {
		if v6 {
			out = append(out, awsec2.Peer_Ipv6(jsii.String(fmt.Sprintf("2001:db8:%x::/48", i))))
		} else {
			out = append(out, awsec2.Peer_Ipv4(jsii.String(fmt.Sprintf("198.51.100.%d/32", i))))
		}
	}
	return out
}

// groups are n imported security groups, as peers.
func groups(f *fixture, n int) []awsec2.IPeer {
	var out []awsec2.IPeer
	for i := range n {
		out = append(out, awsec2.SecurityGroup_FromSecurityGroupId(f.stack, jsii.String(fmt.Sprintf("Client%d", i)), jsii.String(fmt.Sprintf("sg-%017d", i)), nil))
	}
	return out
}

// partners makes the fixture's load balancer "Partners", which admits
// clients: internet-facing and dual-stack in a VPC of its own with
// dualStack, internal in the fixture's VPC otherwise.
func partners(f *fixture, clients []awsec2.IPeer, dualStack bool) {
	if !dualStack {
		f.lb = passthrough.NewLoadBalancer(f.stack, jsii.String("Partners"), &passthrough.LoadBalancerProps{Vpc: f.cluster.Vpc, InternetFacing: jsii.Bool(false), AllowedClients: clients})
		return
	}
	vpc := awsec2.NewVpc(f.stack, jsii.String("DualVpc"), &awsec2.VpcProps{MaxAzs: jsii.Number(2), IpProtocol: awsec2.IpProtocol_DUAL_STACK})
	f.cluster = passthrough.NewCluster(f.stack, jsii.String("DualCluster"), &passthrough.ClusterProps{Vpc: vpc})
	f.lb = passthrough.NewLoadBalancer(f.stack, jsii.String("Partners"), &passthrough.LoadBalancerProps{Vpc: vpc, DualStack: jsii.Bool(true), AllowedClients: clients})
}

func TestInternalLoadBalancerAdmitsTheVpcByDefault(t *testing.T) {
	stack := cdktest.NewStack(t)
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{IpAddresses: awsec2.IpAddresses_Cidr(jsii.String("10.20.0.0/16"))})
	cluster := passthrough.NewCluster(stack, jsii.String("Cluster"), &passthrough.ClusterProps{Vpc: vpc})
	lb := passthrough.NewLoadBalancer(stack, jsii.String("LB"), &passthrough.LoadBalancerProps{Vpc: vpc, InternetFacing: jsii.Bool(false)})
	passthrough.NewFargateService(stack, jsii.String("Api"), &passthrough.FargateServiceProps{ServiceProps: passthrough.ServiceProps{
		Cluster: cluster, LoadBalancer: lb, Image: awsecsImage(),
	}})
	tpl := cdktest.TemplateOf(t, stack)
	tpl.Has(typeLoadBalancer, map[string]any{"Scheme": "internal"})
	tpl.Has(typeSecurityGroup, map[string]any{
		"SecurityGroupIngress": []any{map[string]any{
			"CidrIp":      getAtt(logicalID(t, stack, vpc), "CidrBlock"),
			"IpProtocol":  "tcp",
			"FromPort":    443,
			"ToPort":      443,
			"Description": assertions.Match_AnyValue(),
		}},
	})
	// A VPC that was passed in is used, not a new one.
	tpl.Count("AWS::EC2::VPC", 1)
}

func TestAllowedClientsReplaceTheDefault(t *testing.T) {
	stack := cdktest.NewStack(t)
	cluster := passthrough.NewCluster(stack, jsii.String("Cluster"), nil)
	lb := passthrough.NewLoadBalancer(stack, jsii.String("LB"), &passthrough.LoadBalancerProps{
		Vpc:            cluster.Vpc,
		AllowedClients: []awsec2.IPeer{awsec2.Peer_Ipv4(jsii.String("203.0.113.0/24")), awsec2.Peer_Ipv4(jsii.String("198.51.100.7/32"))},
	})
	passthrough.NewFargateService(stack, jsii.String("Api"), &passthrough.FargateServiceProps{ServiceProps: passthrough.ServiceProps{
		Cluster: cluster, LoadBalancer: lb, Image: awsecsImage(), ListenerPort: jsii.Number(8443),
	}})
	cdktest.TemplateOf(t, stack).Has(typeSecurityGroup, map[string]any{
		"GroupDescription": assertions.Match_StringLikeRegexp(jsii.String("^Passthrough NLB")),
		"SecurityGroupIngress": []any{
			tcpRule("203.0.113.0/24", 8443, 8443),
			tcpRule("198.51.100.7/32", 8443, 8443),
		},
	})
}

// A service in another stack of the same app attaches to the load balancer
// and calls a service of the load balancer's stack; the references run one
// way, from the service's stack to the load balancer's, with weak references
// (Fn::GetStackOutput, as cdk.json configures) and strong ones
// (Fn::ImportValue, aws-cdk-lib's default).
func TestServiceInAnotherStackReferencesTheLoadBalancerOneWay(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ctx    map[string]any
		intrin string
	}{
		{"weak references", cdktest.AppContext(t), "Fn::GetStackOutput"},
		{"strong references", nil, "Fn::ImportValue"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newSharedApp(t, tc.ctx)
			assembly := cdktest.Synth(t, a.app)
			network := assembly.GetStackByName(jsii.String("Network"))
			services := assembly.GetStackByName(jsii.String("Services"))

			if refs := crossStackRefs(t, network.Template()); len(refs) != 0 {
				t.Errorf("the load balancer's stack references %v", refs)
			}
			raw, _ := json.Marshal(network.Template())
			if strings.Contains(string(raw), "Services") || strings.Contains(string(raw), "Api") {
				t.Errorf("the load balancer's stack names the service's stack or service")
			}
			refs := crossStackRefs(t, services.Template())
			if len(refs) == 0 {
				t.Error("the service's stack references nothing of the load balancer's")
			}
			for _, r := range refs {
				if r != "Network" {
					t.Errorf("the service's stack references stack %s", r)
				}
			}
			svcRaw, _ := json.Marshal(services.Template())
			if !strings.Contains(string(svcRaw), `"`+tc.intrin+`"`) {
				t.Errorf("the service's stack does not use %s", tc.intrin)
			}
			var networkDeps, serviceDeps []string
			for _, d := range *network.Dependencies() {
				networkDeps = append(networkDeps, *d.Id())
			}
			for _, d := range *services.Dependencies() {
				serviceDeps = append(serviceDeps, *d.Id())
			}
			if strings.Contains(strings.Join(networkDeps, " "), "Services") {
				t.Errorf("the load balancer's stack depends on %v", networkDeps)
			}
			if !strings.Contains(strings.Join(serviceDeps, " "), "Network") {
				t.Errorf("the service's stack depends on %v, not on the load balancer's stack", serviceDeps)
			}

			// The service's listener, client rule and both sides of its
			// call are in its own stack.
			tpl := cdktest.TemplateFromJSON(t, services.Template().(map[string]any))
			tpl.Count(typeListener, 1)
			tpl.Count(typeLoadBalancer, 0)
			tpl.CountWith(typeIngress, map[string]any{"Description": "Passthrough listener", "FromPort": 443}, 1)
			tpl.CountWith(typeIngress, map[string]any{"Description": "Passthrough Api to Local", "FromPort": 9443}, 1)
			tpl.CountWith(typeEgress, map[string]any{"Description": "Passthrough Api to Local", "FromPort": 9443}, 1)
		})
	}
}
