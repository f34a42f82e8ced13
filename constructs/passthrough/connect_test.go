package passthrough_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
	"github.com/passthrough-cdk/passthrough/internal/cdktest"
)

// internalFixture is a fixture whose load balancer is internal, the usual
// callee of GrantConnect.
func internalFixture(t *testing.T, ec2 bool) *fixture {
	t.Helper()
	f := newFixture(t, ec2)
	f.lb = passthrough.NewLoadBalancer(f.stack, jsii.String("Internal"), &passthrough.LoadBalancerProps{Vpc: f.cluster.Vpc, InternetFacing: jsii.Bool(false)})
	return f
}

// envOf returns the plain environment of the only container of the task
// definition of s.
func envOf(t *testing.T, f *fixture, tpl *cdktest.Template, s *passthrough.Service) map[string]any {
	t.Helper()
	td := tpl.Resources(typeTaskDef)[logicalID(t, f.stack, s.TaskDefinition)]
	out := map[string]any{}
	for _, c := range td["ContainerDefinitions"].([]any) {
		env, _ := c.(map[string]any)["Environment"].([]any)
		for _, e := range env {
			m := e.(map[string]any)
			out[m["Name"].(string)] = m["Value"]
		}
	}
	return out
}

func TestGrantConnectOpensExactlyTheCallersPathToTheListener(t *testing.T) {
	f := internalFixture(t, false)
	billing := f.fargate("Billing", 8443)
	orders := f.fargate("Orders", 443)

	billing.GrantConnect(orders, "BILLING_ADDRESS")
	tpl := f.template(t)
	lbSG := logicalID(t, f.stack, f.lb.SecurityGroup)
	ordersSG := logicalID(t, f.stack, orders.SecurityGroup)

	// Exactly two TCP rules more than the load balancer's to each
	// service's tasks: the caller's egress to the load balancer's group and
	// that group's ingress from the caller, on the listener port. (The
	// other ingress resources are the load balancers' path MTU discovery
	// rules, ICMP.)
	tpl.CountWith(typeIngress, map[string]any{"IpProtocol": "tcp"}, 3)
	tpl.Count(typeEgress, 3)
	tpl.Has(typeEgress, map[string]any{
		"GroupId":                    getAtt(ordersSG, "GroupId"),
		"DestinationSecurityGroupId": getAtt(lbSG, "GroupId"),
		"IpProtocol":                 "tcp",
		"FromPort":                   8443,
		"ToPort":                     8443,
	})
	tpl.Has(typeIngress, map[string]any{
		"GroupId":               getAtt(lbSG, "GroupId"),
		"SourceSecurityGroupId": getAtt(ordersSG, "GroupId"),
		"IpProtocol":            "tcp",
		"FromPort":              8443,
		"ToPort":                8443,
	})
	// The caller is told where: the load balancer's DNS name and the
	// listener port. The callee is told nothing.
	want := map[string]any{"Fn::Join": []any{"", []any{getAtt(logicalID(t, f.stack, f.lb.NLB), "DNSName"), ":8443"}}}
	if got := envOf(t, f, tpl, orders)["BILLING_ADDRESS"]; jsonString(got) != jsonString(want) {
		t.Errorf("BILLING_ADDRESS = %s, want %s", jsonString(got), jsonString(want))
	}
	if got := envOf(t, f, tpl, billing)["BILLING_ADDRESS"]; got != nil {
		t.Errorf("the callee was given BILLING_ADDRESS = %v", got)
	}
}

// An EC2 caller's containers send from their instance, so the instances'
// group is the one admitted.
func TestGrantConnectAdmitsAnEC2CallersInstanceGroup(t *testing.T) {
	f := internalFixture(t, true)
	billing := f.ec2("Billing", 8443)
	orders := f.ec2("Orders", 443)
	billing.GrantConnect(orders, "BILLING_ADDRESS")
	tpl := f.template(t)
	instances := logicalID(t, f.stack, f.cluster.InstanceSecurityGroup)
	lbSG := logicalID(t, f.stack, f.lb.SecurityGroup)
	tpl.CountWith(typeIngress, map[string]any{
		"GroupId":               getAtt(lbSG, "GroupId"),
		"SourceSecurityGroupId": getAtt(instances, "GroupId"),
		"FromPort":              8443,
		"ToPort":                8443,
	}, 1)
	tpl.CountWith(typeEgress, map[string]any{
		"GroupId":                    getAtt(instances, "GroupId"),
		"DestinationSecurityGroupId": getAtt(lbSG, "GroupId"),
		"FromPort":                   8443,
		"ToPort":                     8443,
	}, 1)
}

// With a private name, the caller is given that name, written out, and its
// service waits for the record.
func TestGrantConnectUsesThePrivateDNSName(t *testing.T) {
	f := internalFixture(t, false)
	zone := awsroute53.NewPrivateHostedZone(f.stack, jsii.String("Zone"), &awsroute53.PrivateHostedZoneProps{ZoneName: jsii.String("svc.example"), Vpc: f.cluster.Vpc})
	record := f.lb.AddPrivateDNSName(zone, "billing")
	billing := f.fargate("Billing", 443)
	orders := f.fargate("Orders", 8443)
	billing.GrantConnect(orders, "BILLING_ADDRESS")
	tpl := f.template(t)
	if got := envOf(t, f, tpl, orders)["BILLING_ADDRESS"]; got != "billing.svc.example:443" {
		t.Errorf("BILLING_ADDRESS = %v, want billing.svc.example:443", got)
	}
	if got := *f.lb.PrivateDNSName(); got != "billing.svc.example" {
		t.Errorf("PrivateDNSName() = %s", got)
	}
	deps, _ := tpl.JSON()["Resources"].(map[string]any)[logicalID(t, f.stack, orders.Service)].(map[string]any)["DependsOn"].([]any)
	found := false
	for _, d := range deps {
		found = found || d == logicalID(t, f.stack, record)
	}
	if !found {
		t.Errorf("caller's service depends on %v, not on the record %s", deps, logicalID(t, f.stack, record))
	}
}

// Two services on the same EC2 instances calling one callee need one rule;
// the quota counts it once.
func TestGrantConnectCountsASharedRuleOnce(t *testing.T) {
	f := internalFixture(t, true)
	var peers []awsec2.IPeer
	for i := range 58 {
		peers = append(peers, awsec2.Peer_Ipv4(jsii.String(fmt.Sprintf("10.9.%d.0/24", i))))
	}
	f.lb = passthrough.NewLoadBalancer(f.stack, jsii.String("Partners"), &passthrough.LoadBalancerProps{Vpc: f.cluster.Vpc, InternetFacing: jsii.Bool(false), AllowedClients: peers})
	callee := f.ec2("Callee", 443) // 58 client rules and the path MTU discovery rule
	f.lb = passthrough.NewLoadBalancer(f.stack, jsii.String("Other"), &passthrough.LoadBalancerProps{Vpc: f.cluster.Vpc, InternetFacing: jsii.Bool(false)})
	a, b := f.ec2("A", 1001), f.ec2("B", 1002)
	callee.GrantConnect(a, "CALLEE") // 60: the quota
	callee.GrantConnect(b, "CALLEE") // the same rule, from the same instance group
	f.template(t).CountWith(typeIngress, map[string]any{
		"GroupId":    getAtt(logicalID(t, f.stack, callee.LoadBalancer.SecurityGroup), "GroupId"),
		"IpProtocol": "tcp",
	}, 1)
}

func TestGrantConnectRefusesWhatCannotWork(t *testing.T) {
	runInvalidOn(t, func(t *testing.T) *fixture { return internalFixture(t, false) }, []invalidCase{
		{"nil caller", func(f *fixture) { f.fargate("Billing", 443).GrantConnect(nil, "BILLING") }, "passthrough: Test/Billing: GrantConnect caller: is required"},
		{"variable name with a dash", grant("BILLING-ADDRESS"), `passthrough: Test/Billing: GrantConnect envVar "BILLING-ADDRESS": must be letters, digits and underscores, not starting with a digit`},
		{"variable name starting with a digit", grant("1ADDRESS"), `passthrough: Test/Billing: GrantConnect envVar "1ADDRESS": must be letters, digits and underscores, not starting with a digit`},
		{"empty variable name", grant(""), `passthrough: Test/Billing: GrantConnect envVar "": must be letters, digits and underscores, not starting with a digit`},
		{"variable in the certificate namespace", grant("TLS_PEER"), `passthrough: Test/Billing: GrantConnect envVar "TLS_PEER": is in the TLS_ namespace of the certificate variables; choose another name`},
		{"caller in another VPC", grantFromAnotherVpc, "passthrough: Test/Billing: GrantConnect caller Test/Orders: is in another VPC than load balancer Test/Internal, which it cannot reach; expose the load balancer to other VPCs through PrivateLink (NewEndpointService)"},
		{"internet-facing load balancer without a private path", func(f *fixture) { publicAPI(f).GrantConnect(f.fargate("Orders", 8443), "API") }, "passthrough: Test/Api: GrantConnect caller Test/Orders: would reach internet-facing load balancer Test/Public at its public addresses, through the NAT gateway, where its security group cannot tell the caller apart; give it a private path first with AddPrivateDNSName, or accept the NAT path with AllowCallersThroughNAT"},
		{"a service granted to itself through an internet-facing load balancer", func(f *fixture) { api := publicAPI(f); api.GrantConnect(api, "SELF") }, "passthrough: Test/Api: GrantConnect caller Test/Api: would reach internet-facing load balancer Test/Public at its public addresses, through the NAT gateway, where its security group cannot tell the caller apart; give it a private path first with AddPrivateDNSName, or accept the NAT path with AllowCallersThroughNAT"},
		{"imported load balancer without a DNS name", grantThroughImportedWithoutDNSName, "passthrough: Test/Api: GrantConnect caller Test/Orders: needs the DNS name of imported load balancer Test/Shared; set LoadBalancerAttributes.DNSName or PrivateDNSName"},
		{"one caller too many for the security group", grantPastTheRuleQuota, "passthrough: Test/Callee: GrantConnect caller Test/Orders: would bring the security group of load balancer Test/Partners to 61 inbound rules (IPv4) and 1 (IPv6), over the default quota of 60 per family"},
	})
}

// grant lets "Orders" on 8443 call "Billing" on 443 with envVar.
func grant(envVar string) func(f *fixture) {
	return func(f *fixture) { f.fargate("Billing", 443).GrantConnect(f.fargate("Orders", 8443), envVar) }
}

// publicAPI is the service "Api" on an internet-facing load balancer
// "Public" without a private path.
func publicAPI(f *fixture) *passthrough.Service {
	p := f.service(443)
	p.LoadBalancer = passthrough.NewLoadBalancer(f.stack, jsii.String("Public"), &passthrough.LoadBalancerProps{Vpc: f.cluster.Vpc})
	return passthrough.NewFargateService(f.stack, jsii.String("Api"), &passthrough.FargateServiceProps{ServiceProps: p})
}

func grantFromAnotherVpc(f *fixture) {
	billing := f.fargate("Billing", 443)
	cluster := passthrough.NewCluster(f.stack, jsii.String("OtherCluster"), nil)
	lb := passthrough.NewLoadBalancer(f.stack, jsii.String("OtherLB"), &passthrough.LoadBalancerProps{Vpc: cluster.Vpc, InternetFacing: jsii.Bool(false)})
	orders := passthrough.NewFargateService(f.stack, jsii.String("Orders"), &passthrough.FargateServiceProps{ServiceProps: passthrough.ServiceProps{
		Cluster: cluster, LoadBalancer: lb, Image: f.image,
	}})
	billing.GrantConnect(orders, "BILLING")
}

func grantThroughImportedWithoutDNSName(f *fixture) {
	p := f.service(443)
	p.LoadBalancer = passthrough.ImportLoadBalancer(f.stack, jsii.String("Shared"), &passthrough.LoadBalancerAttributes{
		LoadBalancerARN: jsii.String(importedArn),
		SecurityGroupID: jsii.String("sg-0123456789abcdef0"),
		Vpc:             f.cluster.Vpc,
		AllowedClients:  []awsec2.IPeer{awsec2.Peer_Ipv4(jsii.String("10.0.0.0/8"))},
		InternetFacing:  jsii.Bool(false),
	})
	api := passthrough.NewFargateService(f.stack, jsii.String("Api"), &passthrough.FargateServiceProps{ServiceProps: p})
	api.GrantConnect(f.fargate("Orders", 8443), "API")
}

// grantPastTheRuleQuota grants a caller of a service whose load balancer's
// group is full: 59 client rules and the path MTU discovery rule.
func grantPastTheRuleQuota(f *fixture) {
	var peers []awsec2.IPeer
	for i := range 59 {
		peers = append(peers, awsec2.Peer_Ipv4(jsii.String(fmt.Sprintf("10.9.%d.0/24", i))))
	}
	f.lb = passthrough.NewLoadBalancer(f.stack, jsii.String("Partners"), &passthrough.LoadBalancerProps{Vpc: f.cluster.Vpc, InternetFacing: jsii.Bool(false), AllowedClients: peers})
	callee := f.fargate("Callee", 1000)
	f.lb = passthrough.NewLoadBalancer(f.stack, jsii.String("Other"), &passthrough.LoadBalancerProps{Vpc: f.cluster.Vpc, InternetFacing: jsii.Bool(false)})
	callee.GrantConnect(f.fargate("Orders", 443), "CALLEE")
}

// A variable name that is a token is only known at deploy time and passes.
func TestGrantConnectAcceptsATokenName(t *testing.T) {
	f := internalFixture(t, false)
	name := awscdk.NewCfnParameter(f.stack, jsii.String("Name"), &awscdk.CfnParameterProps{Type: jsii.String("String"), Default: "PEER"})
	billing := f.fargate("Billing", 443)
	orders := f.fargate("Orders", 8443)
	billing.GrantConnect(orders, *name.ValueAsString())
	f.template(t).Has(typeTaskDef, map[string]any{
		"ContainerDefinitions": []any{assertions.Match_ObjectLike(&map[string]any{
			"Environment": []any{map[string]any{"Name": ref("Name"), "Value": assertions.Match_AnyValue()}},
		})},
	})
}

// A service of the load balancer's stack calling a service whose load
// balancer is in the other stack makes each stack reference the other,
// which CloudFormation cannot deploy: synthesis refuses it.
func TestMutualGrantsAcrossStacksAreACycle(t *testing.T) {
	a := newSharedApp(t, cdktest.AppContext(t))
	lb := passthrough.NewLoadBalancer(a.svcs, jsii.String("LB"), &passthrough.LoadBalancerProps{Vpc: a.cluster.Vpc, InternetFacing: jsii.Bool(false)})
	billing := passthrough.NewFargateService(a.svcs, jsii.String("Billing"), &passthrough.FargateServiceProps{ServiceProps: passthrough.ServiceProps{
		Cluster: a.cluster, LoadBalancer: lb, Image: awsecsImage(),
	}})
	billing.GrantConnect(a.local, "BILLING_ADDRESS")
	defer func() {
		r := recover()
		if r == nil {
			t.Fatal("synthesis succeeded with stacks that reference each other")
		}
		if msg := fmt.Sprint(r); !strings.Contains(msg, "cyclic") {
			t.Errorf("synthesis failed with %.300s, want a cyclic reference error", msg)
		}
	}()
	a.app.Synth(nil)
}

// With a network stack that owns both load balancers, two service stacks
// can call each other: each references the network stack only.
func TestMutualGrantsThroughANetworkStackAreNoCycle(t *testing.T) {
	app := cdktest.NewApp(t, cdktest.AppContext(t))
	network := awscdk.NewStack(app, jsii.String("Network"), nil)
	cluster := passthrough.NewCluster(network, jsii.String("Cluster"), nil)
	services := map[string]*passthrough.Service{}
	for _, name := range []string{"Orders", "Billing"} {
		lb := passthrough.NewLoadBalancer(network, jsii.String(name+"LB"), &passthrough.LoadBalancerProps{Vpc: cluster.Vpc, InternetFacing: jsii.Bool(false)})
		stack := awscdk.NewStack(app, jsii.String(name), nil)
		services[name] = passthrough.NewFargateService(stack, jsii.String(name), &passthrough.FargateServiceProps{ServiceProps: passthrough.ServiceProps{
			Cluster: cluster, LoadBalancer: lb, Image: awsecsImage(),
		}})
	}
	services["Billing"].GrantConnect(services["Orders"], "BILLING_ADDRESS")
	services["Orders"].GrantConnect(services["Billing"], "ORDERS_ADDRESS")
	assembly := cdktest.Synth(t, app)
	for name, want := range map[string][]string{"Network": nil, "Orders": {"Network"}, "Billing": {"Network"}} {
		refs := map[string]bool{}
		for _, r := range crossStackRefs(t, assembly.GetStackByName(jsii.String(name)).Template()) {
			refs[r] = true
		}
		var got []string
		for r := range refs {
			got = append(got, r)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) && !(len(got) == 0 && len(want) == 0) {
			t.Errorf("stack %s references %v, want %v", name, got, want)
		}
	}
}
