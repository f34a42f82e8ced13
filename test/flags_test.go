package test

import (
	"encoding/json"
	"slices"
	"sort"
	"testing"

	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough/passthroughtest"
	"github.com/passthrough-cdk/passthrough/examples/stacks"
	"github.com/passthrough-cdk/passthrough/internal/cdktest"
)

// restrictDefaultSecurityGroupTypes are the resources that aws-cdk-lib's
// feature flag @aws-cdk/aws-ec2:restrictDefaultSecurityGroup adds to a new
// VPC: a custom resource, with its provider's function and role, that
// removes the rules of the VPC's default security group.
var restrictDefaultSecurityGroupTypes = []string{"AWS::IAM::Role", "AWS::Lambda::Function", "Custom::VpcRestrictDefaultSG"}

// The constructs set what they need themselves: in an app whose cdk.json
// configures none of the recommended feature flags, every example keeps
// Passthrough's guarantees (TCP listeners only, each listener's path open,
// nothing else open), and the only resources the flags add are those that
// close the VPC's default security group. The README's section for users
// of the library says so.
func TestExamplesKeepTheirGuaranteesWithoutFeatureFlags(t *testing.T) {
	app := cdktest.NewApp(t, nil)
	all := stacks.All(app)
	assembly := app.Synth(nil)
	flagged := map[string]map[string]any{}
	for _, ex := range examples(t) {
		flagged[ex.name] = ex.template
	}
	for _, stack := range all {
		name := *stack.StackName()
		t.Run(name, func(t *testing.T) {
			template, ok := assembly.GetStackByName(jsii.String(name)).Template().(map[string]any)
			if !ok {
				t.Fatal("template is not a JSON object")
			}
			raw, err := json.Marshal(template)
			if err != nil {
				t.Fatal(err)
			}
			problems, err := passthroughtest.Problems(raw)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range problems {
				t.Errorf("without feature flags: %s", p)
			}

			without, with := resourceTypes(template), resourceTypes(flagged[name])
			var added, removed []string
			for id, typ := range with {
				if _, ok := without[id]; !ok {
					added = append(added, typ)
				}
			}
			for id, typ := range without {
				if _, ok := with[id]; !ok {
					removed = append(removed, id+" ("+typ+")")
				}
			}
			sort.Strings(added)
			if !slices.Equal(slices.Compact(added), restrictDefaultSecurityGroupTypes) {
				t.Errorf("the feature flags add resources of types %v; want those of restrictDefaultSecurityGroup only, %v", added, restrictDefaultSecurityGroupTypes)
			}
			if len(removed) > 0 {
				t.Errorf("resources only without feature flags: %v", removed)
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
