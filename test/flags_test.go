package test

import (
	"sort"
	"strings"
	"testing"
)

// The constructs set what they need themselves: the recommended feature
// flags in the repository's cdk.json add no resource to any example and
// take none away (the VPC's default security group is restricted by the
// construct, not by @aws-cdk/aws-ec2:restrictDefaultSecurityGroup). The
// guarantee checks run on the examples without flags too
// (forEachGuarantee); the README's section for users of the library says
// which flags still change a template, and how.
func TestFeatureFlagsAddAndRemoveNoResource(t *testing.T) {
	without := map[string]map[string]any{}
	for _, ex := range readmeTemplates(t) {
		if name, ok := strings.CutPrefix(ex.name, "NoFlags/"); ok {
			without[name] = ex.template
		}
	}
	for _, ex := range examples(t) {
		t.Run(ex.name, func(t *testing.T) {
			plain, ok := without[ex.name]
			if !ok {
				t.Fatal("not synthesized without feature flags")
			}
			with, bare := resourceTypes(ex.template), resourceTypes(plain)
			var added, removed []string
			for id, typ := range with {
				if _, ok := bare[id]; !ok {
					added = append(added, id+" ("+typ+")")
				}
			}
			for id, typ := range bare {
				if _, ok := with[id]; !ok {
					removed = append(removed, id+" ("+typ+")")
				}
			}
			sort.Strings(added)
			sort.Strings(removed)
			if len(added) > 0 {
				t.Errorf("resources only with the feature flags: %v", added)
			}
			if len(removed) > 0 {
				t.Errorf("resources only without the feature flags: %v", removed)
			}
		})
	}
}

// resourceTypes maps a template's logical IDs to their resource types.
func resourceTypes(template map[string]any) map[string]string {
	out := map[string]string{}
	resources, _ := template["Resources"].(map[string]any)
	for id, r := range resources {
		res, _ := r.(map[string]any)
		typ, _ := res["Type"].(string)
		out[id] = typ
	}
	return out
}
