package passthrough_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// pathRecorder is an aspect that records the paths it visits.
type pathRecorder struct{ paths []string }

func (r *pathRecorder) Visit(node constructs.IConstruct) {
	r.paths = append(r.paths, *node.Node().Path())
}

func childIDs(c constructs.IConstruct) []string {
	var ids []string
	for _, child := range *c.Node().Children() {
		ids = append(ids, *child.Node().Id())
	}
	slices.Sort(ids)
	return ids
}

// What the constructors return are constructs in their own right: users
// add children to them, tag them and apply aspects to them.
func TestConstructsWorkAsScopes(t *testing.T) {
	f := newFixture(t, false)
	api := f.fargate("Api", 443)

	if got, want := childIDs(api), []string{"HealthyTargetsAlarm", "Listener", "Logs", "RollbackRule", "SecurityGroup", "Service", *api.TargetGroup.Node().Id(), "TaskDefinition", "UnhealthyTargetsAlarm"}; !slices.Equal(got, want) {
		t.Errorf("service children = %v, want %v", got, want)
	}
	if got, want := childIDs(f.lb), []string{"DNSName", "NLB", "PathMTUDiscovery", "PortAllocationErrorsAlarm", "SecurityGroup", "TargetResetsAlarm"}; !slices.Equal(got, want) {
		t.Errorf("load balancer children = %v, want %v", got, want)
	}
	if got, want := childIDs(f.cluster), []string{"Cluster", "Vpc"}; !slices.Equal(got, want) {
		t.Errorf("cluster children = %v, want %v", got, want)
	}

	// A child added by the user lands under the construct's path.
	topic := awssns.NewTopic(api, jsii.String("Alerts"), nil)
	if got := *topic.Node().Path(); got != "Test/Api/Alerts" {
		t.Errorf("child path = %s, want Test/Api/Alerts", got)
	}

	awscdk.Tags_Of(api).Add(jsii.String("team"), jsii.String("payments"), nil)
	aspect := &pathRecorder{}
	awscdk.Aspects_Of(f.lb).Add(aspect, nil)

	tpl := f.template(t)
	for _, typ := range []string{typeService, typeTargetGroup, typeSecurityGroup, "AWS::SNS::Topic"} {
		tpl.Has(typ, map[string]any{
			"Tags": assertions.Match_ArrayWith(&[]any{map[string]any{"Key": "team", "Value": "payments"}}),
		})
	}
	// The tag stays on the service's own resources.
	tpl.Has(typeLoadBalancer, map[string]any{"Tags": assertions.Match_Absent()})

	if !slices.Contains(aspect.paths, "Test/LB/NLB/Resource") || !slices.Contains(aspect.paths, "Test/LB/SecurityGroup/Resource") {
		t.Errorf("aspect on the load balancer visited %v; want its NLB and security group", aspect.paths)
	}
	for _, p := range aspect.paths {
		if !strings.HasPrefix(p, "Test/LB") {
			t.Errorf("aspect on the load balancer visited %s, outside it", p)
		}
	}
}
