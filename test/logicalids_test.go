package test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/passthrough-cdk/passthrough/internal/golden"
)

// replacedOnRename are the resource types whose logical IDs are recorded in
// testdata/logical-ids.json. A renamed logical ID makes CloudFormation create
// a new resource and delete the old one: for these that means a new DNS name,
// dropped connections, a security group that cannot be deleted while in
// use, or, for an alarm whose fixed name stays the same, the new alarm
// written over the live one, which deleting the old logical ID then removes.
var replacedOnRename = []string{
	"AWS::CloudWatch::Alarm",
	"AWS::ECS::Cluster",
	"AWS::ECS::Service",
	"AWS::EC2::SecurityGroup",
	"AWS::EC2::VPCEndpointService",
	"AWS::ElasticLoadBalancingV2::Listener",
	"AWS::ElasticLoadBalancingV2::LoadBalancer",
	"AWS::ElasticLoadBalancingV2::TargetGroup",
}

var logicalIDsFile = filepath.Join("testdata", "logical-ids.json")

// TestLogicalIDsAreStable fails when a change would rename the logical ID of
// a load balancer, listener, target group, service, cluster, security group,
// endpoint service or alarm of an example, which CloudFormation would replace
// on the next deployment.
func TestLogicalIDsAreStable(t *testing.T) {
	got := map[string]map[string][]string{}
	for _, ex := range examples(t) {
		tpl := model(t, ex.template)
		byType := map[string][]string{}
		for _, typ := range replacedOnRename {
			for _, r := range tpl.OfType(typ) {
				byType[typ] = append(byType[typ], r.ID)
			}
		}
		got[ex.name] = byType
	}
	record, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	raw := golden.File(t, logicalIDsFile, append(record, '\n'))
	var want map[string]map[string][]string
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	var changes []string
	stacks := keysOf(want, got)
	for _, stack := range stacks {
		for _, typ := range replacedOnRename {
			w, g := want[stack][typ], got[stack][typ]
			for _, id := range w {
				if !slices.Contains(g, id) {
					changes = append(changes, fmt.Sprintf("%s: %s %s would be deleted (or replaced)", stack, typ, id))
				}
			}
			for _, id := range g {
				if !slices.Contains(w, id) {
					changes = append(changes, fmt.Sprintf("%s: %s %s would be created", stack, typ, id))
				}
			}
		}
	}
	if len(changes) > 0 {
		t.Errorf("logical IDs of resources that CloudFormation replaces on rename changed:\n  %s\n"+
			"A renamed ID means a new resource and the old one deleted (a new NLB DNS name, dropped connections).\n"+
			"If that is intended: run `%s`, review `git diff %s`, and name the replacement in CHANGELOG.md.",
			strings.Join(changes, "\n  "), golden.Command, logicalIDsFile)
	}
}

func keysOf(maps ...map[string]map[string][]string) []string {
	seen := map[string]bool{}
	for _, m := range maps {
		for k := range m {
			seen[k] = true
		}
	}
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
