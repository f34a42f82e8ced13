package passthrough_test

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
)

const (
	typeEndpointService = "AWS::EC2::VPCEndpointService"
	typeEndpointPerms   = "AWS::EC2::VPCEndpointServicePermissions"
)

// Account IDs become the account's root ARN, ARNs and "*" stay as they are,
// and every connection waits for acceptance by default.
func TestEndpointServiceExposesTheLoadBalancerToNamedPrincipals(t *testing.T) {
	f := internalFixture(t, false)
	f.fargate("Api", 443)
	es := passthrough.NewEndpointService(f.stack, jsii.String("Endpoint"), &passthrough.EndpointServiceProps{
		LoadBalancer:      f.lb,
		AllowedPrincipals: []string{"111122223333", "arn:aws:iam::444455556666:role/consumer"},
	})
	tpl := f.template(t)
	svc := onlyID(t, tpl, typeEndpointService)
	tpl.Has(typeEndpointService, map[string]any{
		"AcceptanceRequired":      true,
		"NetworkLoadBalancerArns": []any{ref(logicalID(t, f.stack, f.lb.NLB))},
	})
	tpl.Has(typeEndpointPerms, map[string]any{
		"ServiceId": ref(svc),
		"AllowedPrincipals": []any{
			map[string]any{"Fn::Join": []any{"", []any{"arn:", ref("AWS::Partition"), ":iam::111122223333:root"}}},
			"arn:aws:iam::444455556666:role/consumer",
		},
	})
	// The load balancer's security group leaves PrivateLink traffic to the
	// endpoint service's guards.
	tpl.Has(typeLoadBalancer, map[string]any{
		"Scheme": "internal",
		"EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic": "off",
	})
	outputs := tpl.JSON()["Outputs"].(map[string]any)
	found := false
	for _, o := range outputs {
		found = found || jsonString(o.(map[string]any)["Value"]) == jsonString(map[string]any{"Fn::Join": []any{".", []any{"com.amazonaws.vpce", ref("AWS::Region"), ref(svc)}}})
	}
	if !found {
		t.Errorf("no output holds the service name: %v", jsonString(outputs))
	}
	if es.ServiceName() == nil {
		t.Error("ServiceName() is nil")
	}
}

// Any account may connect if the provider accepts each connection.
func TestEndpointServiceAllowsEveryAccountOnlyWithAcceptance(t *testing.T) {
	f := internalFixture(t, false)
	passthrough.NewEndpointService(f.stack, jsii.String("Endpoint"), &passthrough.EndpointServiceProps{
		LoadBalancer:       f.lb,
		AllowedPrincipals:  []string{"*"},
		AcceptanceRequired: jsii.Bool(true),
	})
	f.template(t).Has(typeEndpointPerms, map[string]any{"AllowedPrincipals": []any{"*"}})
}

// Only a load balancer that NewEndpointService fronts stops filtering
// PrivateLink traffic by default; every other one states Elastic Load
// Balancing's default, on, and an explicit setting wins either way.
func TestPrivateLinkEnforcementIsOffOnlyBehindAnEndpointService(t *testing.T) {
	f := internalFixture(t, false)
	lb := func(id string, enforce *bool) *passthrough.LoadBalancer {
		return passthrough.NewLoadBalancer(f.stack, jsii.String(id), &passthrough.LoadBalancerProps{
			Vpc:                               f.cluster.Vpc,
			InternetFacing:                    jsii.Bool(false),
			EnforceSecurityGroupOnPrivateLink: enforce,
		})
	}
	fronted, enforcing, plain, off := lb("Fronted", nil), lb("Enforcing", jsii.Bool(true)), lb("Plain", nil), lb("Off", jsii.Bool(false))
	for _, l := range []*passthrough.LoadBalancer{fronted, enforcing} {
		passthrough.NewEndpointService(f.stack, jsii.String(*l.Node().Id()+"Endpoint"), &passthrough.EndpointServiceProps{LoadBalancer: l})
	}
	tpl := f.template(t)
	want := map[*passthrough.LoadBalancer]string{fronted: "off", enforcing: "on", plain: "on", off: "off", f.lb: "on"}
	for l, value := range want {
		got := tpl.Resources(typeLoadBalancer)[logicalID(t, f.stack, l.NLB)]["EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic"]
		if got != value {
			t.Errorf("%s: EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic %v, want %s", *l.Node().Path(), got, value)
		}
	}
}

func TestEndpointServiceCausesNoCdkNagFinding(t *testing.T) {
	f := internalFixture(t, false)
	passthrough.NewEndpointService(f.stack, jsii.String("Endpoint"), &passthrough.EndpointServiceProps{
		LoadBalancer:      f.lb,
		AllowedPrincipals: []string{"111122223333"},
	})
	awscdk.Aspects_Of(f.stack).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Reports: jsii.Bool(false)}), nil)
	annotations := assertions.Annotations_FromStack(f.stack)
	match := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*|CdkNagValidationFailure.*"))
	for _, m := range *annotations.FindError(jsii.String("*"), match) {
		t.Errorf("%s: %v", *m.Id, m.Entry.Data)
	}
	for _, m := range *annotations.FindWarning(jsii.String("*"), match) {
		t.Errorf("%s: %v", *m.Id, m.Entry.Data)
	}
}

func TestEndpointServiceRefusesWhatCannotWork(t *testing.T) {
	runInvalidOn(t, func(t *testing.T) *fixture { return internalFixture(t, false) }, []invalidCase{
		{"no load balancer", func(f *fixture) { passthrough.NewEndpointService(f.stack, jsii.String("Endpoint"), nil) }, "passthrough: Test/Endpoint: LoadBalancer: is required"},
		{"every account without acceptance", endpoint(false, "111122223333", "*"), `passthrough: Test/Endpoint: AllowedPrincipals "*": with AcceptanceRequired false would let every AWS account connect without approval; name the consumers' accounts, or leave AcceptanceRequired on`},
		{"a principal that is neither account nor ARN", endpoint(true, "consumer-team"), `passthrough: Test/Endpoint: AllowedPrincipals "consumer-team": must be a 12-digit AWS account ID, an IAM ARN or "*"`},
		{"an account ID one digit short", endpoint(true, "11112222333"), `passthrough: Test/Endpoint: AllowedPrincipals "11112222333": must be a 12-digit AWS account ID, an IAM ARN or "*"`},
		{"an imported load balancer", func(f *fixture) { f.lb = importShared(f, passthrough.LoadBalancerAttributes{}); endpoint(true)(f) }, "passthrough: Test/Endpoint: LoadBalancer Test/Shared: is imported; create the endpoint service in the app that owns it"},
	})
}

// endpoint exposes the fixture's load balancer as "Endpoint" to principals,
// with or without acceptance.
func endpoint(acceptance bool, principals ...string) func(f *fixture) {
	return func(f *fixture) {
		passthrough.NewEndpointService(f.stack, jsii.String("Endpoint"), &passthrough.EndpointServiceProps{
			LoadBalancer: f.lb, AllowedPrincipals: principals, AcceptanceRequired: jsii.Bool(acceptance),
		})
	}
}
