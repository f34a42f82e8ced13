package passthrough_test

import (
	"fmt"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
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

func TestLoadBalancerRefusesWhatCannotWork(t *testing.T) {
	peers := func(n int, v6 bool) []awsec2.IPeer {
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
	cases := []invalidCase{
		{
			name: "dual-stack in a VPC without IPv6",
			build: func(f *fixture) {
				passthrough.NewLoadBalancer(f.stack, jsii.String("Dual"), &passthrough.LoadBalancerProps{Vpc: f.cluster.Vpc, DualStack: jsii.Bool(true)})
			},
			want: "passthrough: Test/Dual: DualStack true: needs IPv6 in the load balancer's subnets, and subnet Test/Cluster/Vpc/PublicSubnet1 has none; create the VPC with IpProtocol awsec2.IpProtocol_DUAL_STACK",
		},
		{
			name: "IPv6 clients of an IPv4 load balancer",
			build: func(f *fixture) {
				passthrough.NewLoadBalancer(f.stack, jsii.String("V4"), &passthrough.LoadBalancerProps{Vpc: f.cluster.Vpc, AllowedClients: []awsec2.IPeer{awsec2.Peer_AnyIpv4(), awsec2.Peer_AnyIpv6()}})
			},
			want: "passthrough: Test/V4: AllowedClients ::/0: is an IPv6 range, but the load balancer has IPv4 addresses only; set DualStack",
		},
		{
			name: "private listener port out of range",
			build: func(f *fixture) {
				passthrough.NewLoadBalancer(f.stack, jsii.String("Shared"), &passthrough.LoadBalancerProps{Vpc: f.cluster.Vpc, PrivateListenerPorts: []float64{8443, 70000}})
			},
			want: "passthrough: Test/Shared: PrivateListenerPorts 70000: must be a whole number from 1 to 65535",
		},
		{
			name: "more IPv6 inbound rules than a security group allows",
			build: func(f *fixture) {
				vpc := awsec2.NewVpc(f.stack, jsii.String("DualVpc"), &awsec2.VpcProps{MaxAzs: jsii.Number(2), IpProtocol: awsec2.IpProtocol_DUAL_STACK})
				f.cluster = passthrough.NewCluster(f.stack, jsii.String("DualCluster"), &passthrough.ClusterProps{Vpc: vpc})
				clients := append(peers(1, false), peers(21, true)...)
				f.lb = passthrough.NewLoadBalancer(f.stack, jsii.String("Partners"), &passthrough.LoadBalancerProps{Vpc: vpc, DualStack: jsii.Bool(true), AllowedClients: clients})
				for i := range 3 {
					f.fargate(fmt.Sprintf("S%d", i), float64(1000+i))
				}
			},
			want: "passthrough: Test/S2: ListenerPort 1002: would bring the security group of load balancer Test/Partners to 64 inbound IPv6 rules (22 allowed clients per listener), over the default quota of 60, which IPv6 rules count against apart from IPv4 rules",
		},
		{
			name: "security group clients count as IPv4 and IPv6 rules",
			build: func(f *fixture) {
				var groups []awsec2.IPeer
				for i := range 20 {
					groups = append(groups, awsec2.SecurityGroup_FromSecurityGroupId(f.stack, jsii.String(fmt.Sprintf("Client%d", i)), jsii.String(fmt.Sprintf("sg-%017d", i)), nil))
				}
				f.lb = passthrough.NewLoadBalancer(f.stack, jsii.String("Partners"), &passthrough.LoadBalancerProps{Vpc: f.cluster.Vpc, InternetFacing: jsii.Bool(false), AllowedClients: groups})
				for i := range 4 {
					f.fargate(fmt.Sprintf("S%d", i), float64(1000+i))
				}
			},
			want: "passthrough: Test/S2: ListenerPort 1002: would bring the security group of load balancer Test/Partners to 61 inbound rules (20 allowed clients per listener), over the default quota of 60",
		},
	}
	runInvalid(t, cases)
}
