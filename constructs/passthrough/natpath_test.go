package passthrough_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
	"github.com/passthrough-cdk/passthrough/internal/reach"
)

// natFixture is architecture 3 with the NAT path: one internet-facing load
// balancer, Public on 443 and Internal on the private port 8443, which
// Public calls by the load balancer's own DNS name.
func natFixture(t *testing.T, natGateways float64) (*fixture, *passthrough.Service, *passthrough.Service) {
	t.Helper()
	f := newFixture(t, false)
	f.cluster = passthrough.NewCluster(f.stack, jsii.String("NatCluster"), &passthrough.ClusterProps{NatGateways: jsii.Number(natGateways)})
	f.lb = passthrough.NewLoadBalancer(f.stack, jsii.String("Shared"), &passthrough.LoadBalancerProps{Vpc: f.cluster.Vpc, PrivateListenerPorts: []float64{8443}})
	f.lb.AllowCallersThroughNAT()
	public, internal := f.fargate("Public", 443), f.fargate("Internal", 8443)
	internal.GrantConnect(public, "INTERNAL_ADDRESS")
	return f, public, internal
}

// The internal listener admits the NAT gateways' Elastic IP addresses, not
// the internet and not the caller's group (the load balancer sees the NAT
// address); the caller may send to any IPv4 address on the port, and is
// given the load balancer's own DNS name.
func TestGrantConnectThroughNATAdmitsTheNATGatewaysAddresses(t *testing.T) {
	f, public, _ := natFixture(t, 2)
	tpl := f.template(t)
	lbSG := logicalID(t, f.stack, f.lb.SecurityGroup)
	var eips []string
	for id := range tpl.Resources("AWS::EC2::EIP") {
		if len(id) > len("NatCluster") && id[:len("NatCluster")] == "NatCluster" {
			eips = append(eips, id)
		}
	}
	if len(eips) != 2 {
		t.Fatalf("%d NAT gateway EIPs in the cluster's VPC, want 2", len(eips))
	}
	for _, eip := range eips {
		tpl.Has(typeIngress, map[string]any{
			"GroupId":    getAtt(lbSG, "GroupId"),
			"IpProtocol": "tcp",
			"FromPort":   8443,
			"ToPort":     8443,
			"CidrIp":     map[string]any{"Fn::Join": []any{"", []any{getAtt(eip, "PublicIp"), "/32"}}},
		})
	}
	tpl.CountWith(typeIngress, map[string]any{"GroupId": getAtt(lbSG, "GroupId"), "FromPort": 8443}, 2)
	tpl.CountWith(typeIngress, map[string]any{"SourceSecurityGroupId": getAtt(logicalID(t, f.stack, public.SecurityGroup), "GroupId")}, 0)
	egress := tpl.Resources(typeSecurityGroup)[logicalID(t, f.stack, public.SecurityGroup)]["SecurityGroupEgress"]
	if got := jsonString(egress); !strings.Contains(got, `"CidrIp":"0.0.0.0/0"`) || !strings.Contains(got, `"FromPort":8443,"IpProtocol":"tcp","ToPort":8443`) {
		t.Errorf("caller's egress %s, want tcp 8443 to 0.0.0.0/0", got)
	}
	want := map[string]any{"Fn::Join": []any{"", []any{getAtt(logicalID(t, f.stack, f.lb.NLB), "DNSName"), ":8443"}}}
	if got := envOf(t, f, tpl, public)["INTERNAL_ADDRESS"]; jsonString(got) != jsonString(want) {
		t.Errorf("INTERNAL_ADDRESS = %s, want %s", jsonString(got), jsonString(want))
	}
	// The reachability analysis reads the NAT rules as clients of the
	// internal listener and finds nothing else open.
	report, err := reach.Analyze(tpl.JSON())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range report.Problems() {
		t.Error(p)
	}
}

// Addresses can be given, for a VPC this app does not define.
func TestNATPathTakesGivenAddresses(t *testing.T) {
	f := newFixture(t, false)
	f.lb.AllowCallersThroughNAT(awsec2.Peer_Ipv4(jsii.String("203.0.113.10/32")))
	internal := f.fargate("Internal", 8443)
	internal.GrantConnect(f.fargate("Public", 443), "INTERNAL_ADDRESS")
	f.template(t).Has(typeIngress, map[string]any{
		"GroupId":  getAtt(logicalID(t, f.stack, f.lb.SecurityGroup), "GroupId"),
		"CidrIp":   "203.0.113.10/32",
		"FromPort": 8443,
	})
}

// The NAT rules are references that cdk-nag's EC23 cannot read; that, and
// nothing else, is suppressed on them. (ECS2, the caller's address in its
// plain environment, is GrantConnect's and left to the caller's owner.)
func TestNATPathCausesNoCdkNagFinding(t *testing.T) {
	f, _, _ := natFixture(t, 1)
	awscdk.Aspects_Of(f.stack).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Reports: jsii.Bool(false)}), nil)
	annotations := assertions.Annotations_FromStack(f.stack)
	match := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-(?!ECS2).*|CdkNagValidationFailure.*"))
	for _, m := range *annotations.FindError(jsii.String("*"), match) {
		t.Errorf("%s: %v", *m.Id, m.Entry.Data)
	}
	for _, m := range *annotations.FindWarning(jsii.String("*"), match) {
		t.Errorf("%s: %v", *m.Id, m.Entry.Data)
	}
}

func TestNATPathRefusesWhatCannotWork(t *testing.T) {
	runInvalid(t, []invalidCase{
		{"internal load balancer", func(f *fixture) { internalLB(f).AllowCallersThroughNAT() }, "passthrough: Test/Internal: AllowCallersThroughNAT: is for an internet-facing load balancer; callers reach internal load balancer Test/Internal by its own DNS name, which resolves to its private addresses"},
		{"already a private path", func(f *fixture) { f.lb.AddPrivateDNSName(privateZone(f), "lb"); f.lb.AllowCallersThroughNAT() }, "passthrough: Test/LB: AllowCallersThroughNAT: cannot be used on load balancer Test/LB, which already has a private path (AddPrivateDNSName lb.internal.example); callers take one path"},
		{"a private path after the NAT path", func(f *fixture) { f.lb.AllowCallersThroughNAT(); f.lb.AddPrivateDNSName(privateZone(f), "lb") }, `passthrough: Test/LB: AddPrivateDNSName "lb": cannot be used on load balancer Test/LB, whose callers take the NAT path (AllowCallersThroughNAT); callers take one path`},
		{"a VPC without NAT gateways", func(f *fixture) { sharedLB(f, isolatedVpc(f)).AllowCallersThroughNAT() }, "passthrough: Test/Shared: AllowCallersThroughNAT: finds no NAT gateway in the VPC of load balancer Test/Shared, so callers could not reach its public addresses; use AddPrivateDNSName"},
		{"a VPC of another app and no addresses", func(f *fixture) { sharedLB(f, importedVpc(f)).AllowCallersThroughNAT() }, "passthrough: Test/Shared: AllowCallersThroughNAT: needs the NAT gateways' Elastic IP addresses: the VPC of load balancer Test/Shared is not defined in this app; pass them"},
		{"an IPv6 address", func(f *fixture) { f.lb.AllowCallersThroughNAT(awsec2.Peer_Ipv6(jsii.String("2001:db8::1/128"))) }, "passthrough: Test/LB: AllowCallersThroughNAT 2001:db8::1/128: is not an IPv4 address range; NAT gateways send from IPv4 Elastic IP addresses"},
	})
}

// internalLB is an internal load balancer "Internal" in the fixture's VPC.
func internalLB(f *fixture) *passthrough.LoadBalancer {
	return passthrough.NewLoadBalancer(f.stack, jsii.String("Internal"), &passthrough.LoadBalancerProps{Vpc: f.cluster.Vpc, InternetFacing: jsii.Bool(false)})
}

// sharedLB is an internet-facing load balancer "Shared" in vpc.
func sharedLB(f *fixture, vpc awsec2.IVpc) *passthrough.LoadBalancer {
	return passthrough.NewLoadBalancer(f.stack, jsii.String("Shared"), &passthrough.LoadBalancerProps{Vpc: vpc})
}

// isolatedVpc is the VPC of a new cluster without NAT gateways.
func isolatedVpc(f *fixture) awsec2.IVpc {
	return passthrough.NewCluster(f.stack, jsii.String("Isolated"), &passthrough.ClusterProps{NatGateways: jsii.Number(0), VpcEndpoints: jsii.Bool(true)}).Vpc
}

// importedVpc is a VPC of another app.
func importedVpc(f *fixture) awsec2.IVpc {
	return awsec2.Vpc_FromVpcAttributes(f.stack, jsii.String("Imported"), &awsec2.VpcAttributes{
		VpcId:             jsii.String("vpc-0123456789abcdef0"),
		AvailabilityZones: jsii.Strings("eu-west-1a", "eu-west-1b"),
		PublicSubnetIds:   jsii.Strings("subnet-0123456789abcdef0", "subnet-0123456789abcdef1"),
	})
}
