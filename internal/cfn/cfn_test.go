package cfn

import (
	"encoding/json"
	"slices"
	"testing"

	_ "github.com/passthrough-cdk/passthrough/internal/golden" // accepts the -update of `go test ./... -update`
)

func TestShortNameStripsTheCDKHash(t *testing.T) {
	for in, want := range map[string]string{
		"LoadBalancerSecurityGroupA28D6DD7": "LoadBalancerSecurityGroup",
		"LoadBalancerNLBB9F3A217":           "LoadBalancerNLB",
		"Cluster3D72770B":                   "Cluster",
		"ApiServiceD5B4A50A":                "ApiService",
		"ApiFromLb":                         "ApiFromLb",
		"ServiceD5B4A50":                    "ServiceD5B4A50",  // 7 hex digits: not CDK's hash
		"ServiceD5B4A50a":                   "ServiceD5B4A50a", // lower case: not CDK's hash
		"A28D6DD7":                          "A28D6DD7",        // nothing would be left
	} {
		if got := ShortName(in); got != want {
			t.Errorf("ShortName(%q) = %q, want %q", in, got, want)
		}
	}
}

// js decodes a JSON literal, so that tests write CloudFormation the way
// templates do.
func js(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad JSON in test: %v: %s", err, s)
	}
	return v
}

// References are found at any depth and in both forms of Fn::GetAtt; a
// plain string that happens to hold a logical ID is none.
func TestRefsFindsEveryReference(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want []Ref
	}{
		{`{"Fn::GetAtt": ["Svc", "Name"]}`, []Ref{{"Svc", "Name"}}},
		{`{"Fn::GetAtt": "Svc.Name"}`, []Ref{{"Svc", "Name"}}},
		{`{"Ref": "Svc"}`, []Ref{{"Svc", ""}}},
		{`"service/cluster/Svc"`, nil},
		{`{"Fn::Join": ["", ["service/", {"Ref": "C"}, "/", {"Fn::GetAtt": ["A", "Name"]}]]}`, []Ref{{"A", "Name"}, {"C", ""}}},
		{`{"Fn::Sub": ["service/${C}/${N}", {"N": {"Fn::GetAtt": ["B", "Name"]}}]}`, []Ref{{"B", "Name"}}},
		{`{"Fn::Base64": {"Fn::Join": ["", ["echo ECS_CLUSTER=", {"Ref": "C"}, " ", {"Ref": "C"}]]}}`, []Ref{{"C", ""}}},
	} {
		if got := Refs(js(t, tc.v)); !slices.Equal(got, tc.want) {
			t.Errorf("Refs(%s) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

// A listener forwards to the target groups of its default actions, written
// directly or as a weighted ForwardConfig; a service registers in the
// target groups of its LoadBalancers, not in a Classic Load Balancer.
func TestListenerToTargetGroupToService(t *testing.T) {
	tpl, err := New(js(t, `{"Resources": {
		"Listener": {"Type": "AWS::ElasticLoadBalancingV2::Listener", "Properties": {"DefaultActions": [
			{"Type": "forward", "TargetGroupArn": {"Ref": "B"}},
			{"Type": "forward", "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": {"Ref": "A"}}, {"TargetGroupArn": {"Ref": "B"}}]}}]}},
		"A": {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup"},
		"B": {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup"},
		"Service": {"Type": "AWS::ECS::Service", "Properties": {"LoadBalancers": [
			{"LoadBalancerName": "classic", "ContainerName": "app", "ContainerPort": 8443},
			{"TargetGroupArn": {"Ref": "A"}, "ContainerName": "app", "ContainerPort": 8443}]}}}}`).(map[string]any))
	if err != nil {
		t.Fatal(err)
	}
	if got := tpl.ListenerTargetGroups(tpl.Resource("Listener", TypeListener)); !slices.Equal(got, []string{"A", "B"}) {
		t.Errorf("listener forwards to %v, want [A B]", got)
	}
	got := ServiceAttachments(tpl.Resource("Service", TypeService))
	if len(got) != 1 || tpl.Key(got[0].TargetGroup) != "A" || got[0].Container != "app" || got[0].Port != 8443 {
		t.Errorf("service attachments %+v, want app:8443 in A", got)
	}
}

// A blue/green service registers the same container in its alternate
// target group too, listed after the primaries.
func TestServiceAttachmentsIncludeTheAlternateTargetGroup(t *testing.T) {
	tpl, err := New(js(t, `{"Resources": {
		"A": {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup"},
		"B": {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup"},
		"Service": {"Type": "AWS::ECS::Service", "Properties": {"LoadBalancers": [
			{"TargetGroupArn": {"Ref": "A"}, "ContainerName": "app", "ContainerPort": 8443,
			 "AdvancedConfiguration": {"AlternateTargetGroupArn": {"Ref": "B"}, "ProductionListenerRule": {"Ref": "L"}}}]}}}}`).(map[string]any))
	if err != nil {
		t.Fatal(err)
	}
	got := ServiceAttachments(tpl.Resource("Service", TypeService))
	if len(got) != 2 || tpl.Key(got[0].TargetGroup) != "A" || got[0].Alternate ||
		tpl.Key(got[1].TargetGroup) != "B" || !got[1].Alternate || got[1].Container != "app" || got[1].Port != 8443 {
		t.Errorf("service attachments %+v, want app:8443 in A, then in B as the alternate", got)
	}
}

func TestNewRejectsWhatIsNotATemplate(t *testing.T) {
	for name, tpl := range map[string]map[string]any{
		"NoResources":       {"Description": "x"},
		"ResourceNotObject": {"Resources": map[string]any{"A": "x"}},
		"ResourceNoType":    {"Resources": map[string]any{"A": map[string]any{}}},
	} {
		if _, err := New(tpl); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestStackName(t *testing.T) {
	for in, want := range map[string]string{
		"test/testdata/PassthroughPublicServicesEC2.template.json": "PassthroughPublicServicesEC2",
		"cdk.out/Stack.json": "Stack",
	} {
		if got := StackName(in); got != want {
			t.Errorf("StackName(%q) = %q, want %q", in, got, want)
		}
	}
}
