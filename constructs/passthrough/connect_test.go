package passthrough_test

import (
	"fmt"
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
	cases := []struct {
		name  string
		build func(t *testing.T, f *fixture)
		want  string
	}{
		{
			name: "nil caller",
			build: func(t *testing.T, f *fixture) {
				f.fargate("Billing", 443).GrantConnect(nil, "BILLING")
			},
			want: "passthrough: Test/Billing: GrantConnect caller: is required",
		},
		{
			name: "variable name with a dash",
			build: func(t *testing.T, f *fixture) {
				f.fargate("Billing", 443).GrantConnect(f.fargate("Orders", 8443), "BILLING-ADDRESS")
			},
			want: `passthrough: Test/Billing: GrantConnect envVar "BILLING-ADDRESS": must be letters, digits and underscores, not starting with a digit`,
		},
		{
			name: "variable name starting with a digit",
			build: func(t *testing.T, f *fixture) {
				f.fargate("Billing", 443).GrantConnect(f.fargate("Orders", 8443), "1ADDRESS")
			},
			want: `passthrough: Test/Billing: GrantConnect envVar "1ADDRESS": must be letters, digits and underscores, not starting with a digit`,
		},
		{
			name: "empty variable name",
			build: func(t *testing.T, f *fixture) {
				f.fargate("Billing", 443).GrantConnect(f.fargate("Orders", 8443), "")
			},
			want: `passthrough: Test/Billing: GrantConnect envVar "": must be letters, digits and underscores, not starting with a digit`,
		},
		{
			name: "variable in the certificate namespace",
			build: func(t *testing.T, f *fixture) {
				f.fargate("Billing", 443).GrantConnect(f.fargate("Orders", 8443), "TLS_PEER")
			},
			want: `passthrough: Test/Billing: GrantConnect envVar "TLS_PEER": is in the TLS_ namespace of the certificate variables; choose another name`,
		},
		{
			name: "caller in another VPC",
			build: func(t *testing.T, f *fixture) {
				billing := f.fargate("Billing", 443)
				cluster := passthrough.NewCluster(f.stack, jsii.String("OtherCluster"), nil)
				lb := passthrough.NewLoadBalancer(f.stack, jsii.String("OtherLB"), &passthrough.LoadBalancerProps{Vpc: cluster.Vpc, InternetFacing: jsii.Bool(false)})
				orders := passthrough.NewFargateService(f.stack, jsii.String("Orders"), &passthrough.FargateServiceProps{ServiceProps: passthrough.ServiceProps{
					Cluster: cluster, LoadBalancer: lb, Image: f.image,
				}})
				billing.GrantConnect(orders, "BILLING")
			},
			want: "passthrough: Test/Billing: GrantConnect caller Test/Orders: is in another VPC than load balancer Test/Internal, which it cannot reach; expose the load balancer to other VPCs through PrivateLink (NewEndpointService)",
		},
		{
			name: "internet-facing load balancer without a private path",
			build: func(t *testing.T, f *fixture) {
				p := f.service(443)
				p.LoadBalancer = passthrough.NewLoadBalancer(f.stack, jsii.String("Public"), &passthrough.LoadBalancerProps{Vpc: f.cluster.Vpc})
				api := passthrough.NewFargateService(f.stack, jsii.String("Api"), &passthrough.FargateServiceProps{ServiceProps: p})
				api.GrantConnect(f.fargate("Orders", 8443), "API")
			},
			want: "passthrough: Test/Api: GrantConnect caller Test/Orders: would reach internet-facing load balancer Test/Public at its public addresses, through the NAT gateway, where its security group cannot tell the caller apart; give it a private path first with AddPrivateDNSName, or accept the NAT path with AllowCallersThroughNAT",
		},
		{
			name: "a service granted to itself through an internet-facing load balancer",
			build: func(t *testing.T, f *fixture) {
				p := f.service(443)
				p.LoadBalancer = passthrough.NewLoadBalancer(f.stack, jsii.String("Public"), &passthrough.LoadBalancerProps{Vpc: f.cluster.Vpc})
				api := passthrough.NewFargateService(f.stack, jsii.String("Api"), &passthrough.FargateServiceProps{ServiceProps: p})
				api.GrantConnect(api, "SELF")
			},
			want: "passthrough: Test/Api: GrantConnect caller Test/Api: would reach internet-facing load balancer Test/Public at its public addresses, through the NAT gateway, where its security group cannot tell the caller apart; give it a private path first with AddPrivateDNSName, or accept the NAT path with AllowCallersThroughNAT",
		},
		{
			name: "imported load balancer without a DNS name",
			build: func(t *testing.T, f *fixture) {
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
			},
			want: "passthrough: Test/Api: GrantConnect caller Test/Orders: needs the DNS name of imported load balancer Test/Shared; set LoadBalancerAttributes.DNSName or PrivateDNSName",
		},
		{
			name: "one caller too many for the security group",
			build: func(t *testing.T, f *fixture) {
				var peers []awsec2.IPeer
				for i := range 59 {
					peers = append(peers, awsec2.Peer_Ipv4(jsii.String(fmt.Sprintf("10.9.%d.0/24", i))))
				}
				f.lb = passthrough.NewLoadBalancer(f.stack, jsii.String("Partners"), &passthrough.LoadBalancerProps{Vpc: f.cluster.Vpc, InternetFacing: jsii.Bool(false), AllowedClients: peers})
				callee := f.fargate("Callee", 1000) // 59 client rules and the path MTU discovery rule: 60
				f.lb = passthrough.NewLoadBalancer(f.stack, jsii.String("Other"), &passthrough.LoadBalancerProps{Vpc: f.cluster.Vpc, InternetFacing: jsii.Bool(false)})
				callee.GrantConnect(f.fargate("Orders", 443), "CALLEE")
			},
			want: "passthrough: Test/Callee: GrantConnect caller Test/Orders: would bring the security group of load balancer Test/Partners to 61 inbound rules (IPv4) and 1 (IPv6), over the default quota of 60 per family",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := internalFixture(t, false)
			err := cdktest.Invalid(t, func() { tc.build(t, f) })
			if got := err.Error(); got != tc.want {
				t.Errorf("error mismatch\ngot:  %s\nwant: %s", got, tc.want)
			}
		})
	}
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
