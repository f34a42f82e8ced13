package passthrough_test

import (
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
)

const (
	typeRecordSet = "AWS::Route53::RecordSet"
	typeLookup    = "Custom::PassthroughPrivateAddresses"
)

func privateZone(f *fixture) awsroute53.PrivateHostedZone {
	return awsroute53.NewPrivateHostedZone(f.stack, jsii.String("Zone"), &awsroute53.PrivateHostedZoneProps{ZoneName: jsii.String("internal.example"), Vpc: f.cluster.Vpc})
}

// aliasTo is the alias target of a Network Load Balancer: its own DNS name,
// never "dualstack." + it (see nlbAlias in dns.go).
func aliasTo(lb string) map[string]any {
	return map[string]any{
		"DNSName":      getAtt(lb, "DNSName"),
		"HostedZoneId": getAtt(lb, "CanonicalHostedZoneID"),
	}
}

// A name in a public zone aliases the load balancer, so that certificates
// can name a stable host.
func TestAddDNSNameAliasesTheLoadBalancer(t *testing.T) {
	f := newFixture(t, false)
	zone := awsroute53.HostedZone_FromHostedZoneAttributes(f.stack, jsii.String("Public"), &awsroute53.HostedZoneAttributes{
		HostedZoneId: jsii.String("Z0123456789ABCDEFGHIJ"),
		ZoneName:     jsii.String("example.com"),
	})
	record := f.lb.AddDNSName(zone, "api")
	tpl := f.template(t)
	tpl.Count(typeRecordSet, 1)
	tpl.Has(typeRecordSet, map[string]any{
		"Name":         "api.example.com.",
		"Type":         "A",
		"HostedZoneId": "Z0123456789ABCDEFGHIJ",
		"AliasTarget":  aliasTo(logicalID(t, f.stack, f.lb.NLB)),
	})
	tpl.Count(typeLookup, 0)
	if *record.Node().Scope().Node().Path() != "Test/LB" {
		t.Errorf("record under %s, want the load balancer", *record.Node().Scope().Node().Path())
	}
	// AddDNSName is not a private path: GrantConnect still needs one.
	if f.lb.PrivateDNSName() != nil {
		t.Errorf("PrivateDNSName() = %s after AddDNSName", *f.lb.PrivateDNSName())
	}
}

// A dual-stack load balancer's name is an A and an AAAA alias, both to the
// load balancer's own DNS name: AWS documents the "dualstack." prefix for
// Application and Classic Load Balancers, not for Network Load Balancers.
func TestDualStackAliasesUseTheLoadBalancersOwnDNSName(t *testing.T) {
	f, vpc := dualStackFixture(t)
	f.lb = passthrough.NewLoadBalancer(f.stack, jsii.String("Dual"), &passthrough.LoadBalancerProps{Vpc: vpc, DualStack: jsii.Bool(true)})
	zone := awsroute53.HostedZone_FromHostedZoneAttributes(f.stack, jsii.String("Public"), &awsroute53.HostedZoneAttributes{
		HostedZoneId: jsii.String("Z0123456789ABCDEFGHIJ"),
		ZoneName:     jsii.String("example.com"),
	})
	f.lb.AddDNSName(zone, "api")
	tpl := f.template(t)
	nlb := logicalID(t, f.stack, f.lb.NLB)
	for _, typ := range []string{"A", "AAAA"} {
		tpl.CountWith(typeRecordSet, map[string]any{"Name": "api.example.com.", "Type": typ, "AliasTarget": aliasTo(nlb)}, 1)
	}
	if raw := jsonString(tpl.JSON()); strings.Contains(raw, "dualstack.") {
		t.Error(`the template names a "dualstack." host`)
	}
}

// An internal load balancer's own DNS name resolves to private addresses:
// its private name is an alias too, with no lookup.
func TestAddPrivateDNSNameAliasesAnInternalLoadBalancer(t *testing.T) {
	f := internalFixture(t, false)
	f.lb.AddPrivateDNSName(privateZone(f), "billing.internal.example.")
	tpl := f.template(t)
	tpl.Has(typeRecordSet, map[string]any{
		"Name":        "billing.internal.example.",
		"Type":        "A",
		"AliasTarget": aliasTo(logicalID(t, f.stack, f.lb.NLB)),
	})
	tpl.Count(typeLookup, 0)
	if got := *f.lb.PrivateDNSName(); got != "billing.internal.example" {
		t.Errorf("PrivateDNSName() = %s", got)
	}
}

// An internet-facing load balancer's private addresses are read from its
// network interfaces at deploy time, one per subnet in the subnets' order,
// and written as an A record. The lookup's properties name the load
// balancer and its subnets, so that it runs again when either changes.
func TestAddPrivateDNSNameLooksUpAnInternetFacingLoadBalancersAddresses(t *testing.T) {
	f := newFixture(t, false)
	f.lb.AddPrivateDNSName(privateZone(f), "lb")
	tpl := f.template(t)
	nlb := logicalID(t, f.stack, f.lb.NLB)
	lookup := onlyID(t, tpl, typeLookup)
	tpl.Has(typeRecordSet, map[string]any{
		"Name": "lb.internal.example.",
		"Type": "A",
		"TTL":  "300",
		"ResourceRecords": []any{
			getAtt(lookup, "Address0"),
			getAtt(lookup, "Address1"),
		},
	})
	fn := ""
	for id := range tpl.Resources("AWS::Lambda::Function") {
		if strings.HasPrefix(id, "PassthroughPrivateAddressLookup") {
			fn = id
		}
	}
	var subnets []any
	for _, s := range *f.cluster.Vpc.PublicSubnets() {
		subnets = append(subnets, ref(logicalID(t, f.stack, s)))
	}
	want := map[string]any{
		"ServiceToken":         getAtt(fn, "Arn"),
		"LoadBalancerFullName": getAtt(nlb, "LoadBalancerFullName"),
		"Subnets":              subnets,
		// Less than CloudFormation's default of an hour, should the
		// handler never answer.
		"ServiceTimeout": "240",
	}
	if got := tpl.Resources(typeLookup)[lookup]; jsonString(got) != jsonString(want) {
		t.Errorf("lookup properties\ngot:  %s\nwant: %s", jsonString(got), jsonString(want))
	}
	code, err := os.ReadFile("privateaddresses.js")
	if err != nil {
		t.Fatal(err)
	}
	tpl.Has("AWS::Lambda::Function", map[string]any{
		"Code":    map[string]any{"ZipFile": string(code)},
		"Handler": "index.handler",
		"Runtime": "nodejs24.x",
		"Timeout": 180,
	})
	tpl.Has("AWS::IAM::Policy", map[string]any{
		"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{map[string]any{
			"Action":    "ec2:DescribeNetworkInterfaces",
			"Effect":    "Allow",
			"Resource":  "*",
			"Condition": map[string]any{"StringEquals": map[string]any{"aws:RequestedRegion": ref("AWS::Region")}},
		}})},
	})
	if role := tpl.Resources("AWS::IAM::Role")[logicalID(t, f.stack, f.stack.Node().FindChild(jsii.String("PassthroughPrivateAddressLookupRole")))]; role["ManagedPolicyArns"] != nil {
		t.Errorf("lookup role has managed policies %v", role["ManagedPolicyArns"])
	}
	if got := *f.lb.PrivateDNSName(); got != "lb.internal.example" {
		t.Errorf("PrivateDNSName() = %s", got)
	}
}

// The lookup's function, role and policy raise no cdk-nag finding that is
// not suppressed with its reason, and two lookups in one stack share one
// function, role and log group.
func TestPrivateAddressLookupCausesNoCdkNagFinding(t *testing.T) {
	f := newFixture(t, false)
	zone := privateZone(f)
	f.lb.AddPrivateDNSName(zone, "lb")
	second := passthrough.NewLoadBalancer(f.stack, jsii.String("Second"), &passthrough.LoadBalancerProps{Vpc: f.cluster.Vpc})
	second.AddPrivateDNSName(zone, "second")
	awscdk.Aspects_Of(f.stack).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Reports: jsii.Bool(false), LogIgnores: jsii.Bool(true)}), nil)
	annotations := assertions.Annotations_FromStack(f.stack)
	match := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
	for _, m := range *annotations.FindError(jsii.String("*"), match) {
		t.Errorf("%s: %v", *m.Id, m.Entry.Data)
	}
	for _, m := range *annotations.FindWarning(jsii.String("*"), match) {
		t.Errorf("%s: %v", *m.Id, m.Entry.Data)
	}
	if ignored := annotations.FindInfo(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-IAM5"))); len(*ignored) == 0 {
		t.Error("cdk-nag logged no suppressed AwsSolutions-IAM5: the pack did not see the suppression")
	}
	tpl := f.template(t)
	tpl.Count(typeLookup, 2)
	tpl.CountWith("AWS::Lambda::Function", map[string]any{"Handler": "index.handler"}, 1)
	// One log group for the stack's one lookup function, kept a month.
	tpl.CountWith("AWS::Logs::LogGroup", map[string]any{"RetentionInDays": 30}, 1)
}

func TestDNSNamesRefuseWhatCannotWork(t *testing.T) {
	runInvalid(t, []invalidCase{
		{"empty record name", func(f *fixture) { f.lb.AddDNSName(privateZone(f), "") }, `passthrough: Test/LB: AddDNSName "": is an empty record name; name the record relative to the zone, or fully qualified`},
		{"no zone", func(f *fixture) { f.lb.AddPrivateDNSName(nil, "lb") }, "passthrough: Test/LB: AddPrivateDNSName zone: is required"},
		{"private addresses of an imported internet-facing load balancer", func(f *fixture) { importedLB(f, true, true).AddPrivateDNSName(privateZone(f), "lb") }, `passthrough: Test/Shared: AddPrivateDNSName "lb": cannot look up the private addresses of imported internet-facing load balancer Test/Shared; add the name in the app that owns it and pass it as LoadBalancerAttributes.PrivateDNSName`},
		{"alias of an imported load balancer without DNS name", func(f *fixture) { importedLB(f, false, false).AddDNSName(privateZone(f), "lb") }, `passthrough: Test/Shared: AddDNSName "lb": needs the DNS name and canonical hosted zone of imported load balancer Test/Shared; set LoadBalancerAttributes.DNSName and CanonicalHostedZoneID`},
		{"private alias of an imported internal load balancer without DNS name", func(f *fixture) { importedLB(f, false, false).AddPrivateDNSName(privateZone(f), "lb") }, `passthrough: Test/Shared: AddPrivateDNSName "lb": needs the DNS name and canonical hosted zone of imported load balancer Test/Shared; set LoadBalancerAttributes.DNSName and CanonicalHostedZoneID`},
	})
}

// importedLB imports load balancer "Shared", internet-facing or not, with
// or without its DNS name and hosted zone.
func importedLB(f *fixture, internetFacing bool, dns bool) *passthrough.LoadBalancer {
	attrs := &passthrough.LoadBalancerAttributes{
		LoadBalancerARN: jsii.String(importedArn),
		SecurityGroupID: jsii.String("sg-0123456789abcdef0"),
		Vpc:             f.cluster.Vpc,
		AllowedClients:  []awsec2.IPeer{awsec2.Peer_AnyIpv4()},
		InternetFacing:  jsii.Bool(internetFacing),
	}
	if dns {
		attrs.DNSName = jsii.String("shared-0123456789.elb.eu-west-1.amazonaws.com")
		attrs.CanonicalHostedZoneID = jsii.String("Z2IFOLAFXWLO4F")
	}
	return passthrough.ImportLoadBalancer(f.stack, jsii.String("Shared"), attrs)
}
