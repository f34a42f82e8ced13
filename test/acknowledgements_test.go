package test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
	"github.com/passthrough-cdk/passthrough/examples/stacks"
	"github.com/passthrough-cdk/passthrough/internal/cdktest"
)

// cdk-nag v3 is a policy-validation plugin: it no longer reads the cdk_nag
// template metadata, and its suppressions are aws-cdk-lib validation
// acknowledgements. Its Go module is not available here, so a plugin
// written in Go stands in for it: registered like cdk-nag v3's packs
// (awscdk.Validations_Of(app).AddPlugins), named like its AwsSolutions
// pack, it reports every finding that the templates' cdk_nag metadata
// suppresses, under the rule names cdk-nag v3 uses, plus findings that
// nothing acknowledges. aws-cdk-lib then marks in its validation report
// which findings are acknowledged.

// nagV3StandIn implements awscdk.IPolicyValidationPlugin. jsii calls back
// into Go for its properties and its Validate method.
type nagV3StandIn struct {
	// controls are findings nothing acknowledges: rule names by stack name
	// and logical ID.
	controls map[string]map[string]string
	// reported are the findings Validate reported, suppressed or not.
	reported []nagV3Finding
	// called tells that aws-cdk-lib called Validate.
	called bool
}

type nagV3Finding struct {
	stack, logicalID, rule, reason string
}

func (p *nagV3StandIn) Name() *string       { return jsii.String("AwsSolutions") }
func (p *nagV3StandIn) Version() *string    { return jsii.String("3.0.2") }
func (p *nagV3StandIn) RuleIds() *[]*string { return nil }

// Validate reads every stack's template and reports, per resource, each
// rule its cdk_nag metadata suppresses as cdk-nag v3 names the finding:
// "AwsSolutions-IAM5", "AwsSolutions-IAM5[Resource::*]" for one finding of
// the rule (v2's applies_to), and the rule itself for a rule that could
// not evaluate the resource (v2's CdkNagValidationFailure).
func (p *nagV3StandIn) Validate(ctx awscdk.IPolicyValidationContext) *awscdk.PolicyValidationPluginReport {
	p.called = true
	var violations []*awscdk.PolicyViolation
	report := func(path, stack, logicalID, rule, reason string) {
		p.reported = append(p.reported, nagV3Finding{stack: stack, logicalID: logicalID, rule: rule, reason: reason})
		violations = append(violations, &awscdk.PolicyViolation{
			RuleName:    jsii.String(rule),
			Description: jsii.String("reported by the test's stand-in for cdk-nag v3"),
			Severity:    jsii.String("error"),
			ViolatingResources: &[]*awscdk.PolicyViolatingResource{{
				ResourceLogicalId: jsii.String(logicalID),
				TemplatePath:      jsii.String(path),
				Locations:         jsii.Strings("Properties"),
			}},
		})
	}
	for _, st := range *ctx.StackTemplates() {
		path := *st.TemplatePath
		stack := filepath.Base(path[:len(path)-len(".template.json")])
		var tpl struct {
			Resources map[string]struct {
				Metadata struct {
					CdkNag struct {
						Rules []struct {
							ID        string   `json:"id"`
							Reason    string   `json:"reason"`
							AppliesTo []string `json:"applies_to"`
						} `json:"rules_to_suppress"`
					} `json:"cdk_nag"`
				} `json:"Metadata"`
			} `json:"Resources"`
		}
		raw, err := os.ReadFile(path)
		if err == nil {
			err = json.Unmarshal(raw, &tpl)
		}
		if err != nil {
			panic(fmt.Sprintf("read %s: %v", path, err))
		}
		for _, id := range sortedKeys(tpl.Resources) {
			for _, r := range tpl.Resources[id].Metadata.CdkNag.Rules {
				switch {
				case r.ID == "CdkNagValidationFailure":
					for _, rule := range r.AppliesTo {
						report(path, stack, id, rule, r.Reason)
					}
				case len(r.AppliesTo) == 0:
					report(path, stack, id, r.ID, r.Reason)
				default:
					for _, finding := range r.AppliesTo {
						report(path, stack, id, r.ID+"["+finding+"]", r.Reason)
					}
				}
			}
		}
		for _, id := range sortedKeys(p.controls[stack]) {
			report(path, stack, id, p.controls[stack][id], "")
		}
	}
	return &awscdk.PolicyValidationPluginReport{Success: jsii.Bool(len(violations) == 0), Violations: &violations}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// validationReport is the part of aws-cdk-lib's validation-report.json the
// test reads.
type validationReport struct {
	PluginReports []struct {
		PluginName           string                `json:"pluginName"`
		Violations           []reportedViolation   `json:"violations"`
		SuppressedViolations []suppressedViolation `json:"suppressedViolations"`
	} `json:"pluginReports"`
}

type reportedViolation struct {
	RuleName            string `json:"ruleName"`
	ViolatingConstructs []struct {
		ConstructPath          string `json:"constructPath"`
		CloudFormationResource struct {
			LogicalID string `json:"logicalId"`
		} `json:"cloudFormationResource"`
	} `json:"violatingConstructs"`
}

type suppressedViolation struct {
	reportedViolation
	AcknowledgedID string `json:"acknowledgedId"`
	Reason         string `json:"reason"`
	AcknowledgedAt string `json:"acknowledgedAt"`
}

// Every suppression in the templates (the library's, and the examples'
// own) is also an aws-cdk-lib validation acknowledgement that a
// policy-validation plugin's finding of that rule on that resource is
// suppressed by, with the same reason; a finding nothing acknowledges stays
// a violation, and so does AwsSolutions-EC23 on a load balancer group whose
// suppression the library took back for an administration port.
func TestSuppressionsAreValidationAcknowledgements(t *testing.T) {
	app := cdktest.NewApp(t, cdktest.AppContext(t))
	stacks.All(app)

	// A stack with two findings that nothing may acknowledge.
	controls := awscdk.NewStack(app, jsii.String("Controls"), nil)
	bucket := awss3.NewBucket(controls, jsii.String("Bucket"), &awss3.BucketProps{EnforceSSL: jsii.Bool(true)})
	cluster := passthrough.NewCluster(controls, jsii.String("Cluster"), nil)
	lb := passthrough.NewLoadBalancer(controls, jsii.String("LB"), &passthrough.LoadBalancerProps{Vpc: cluster.Vpc})
	image := awsecs.ContainerImage_FromRegistry(jsii.String("registry.example.com/api:1"), nil)
	for _, svc := range []struct {
		id   string
		port float64
	}{{"Api", 443}, {"Ssh", 22}} { // 22: the library drops its EC23 suppression
		passthrough.NewFargateService(controls, jsii.String(svc.id), &passthrough.FargateServiceProps{ServiceProps: passthrough.ServiceProps{
			Cluster: cluster, LoadBalancer: lb, Image: image, ListenerPort: jsii.Number(svc.port),
		}})
	}
	bucketID := *controls.GetLogicalId(bucket.Node().DefaultChild().(awscdk.CfnElement))
	groupID := *controls.GetLogicalId(lb.SecurityGroup.Node().DefaultChild().(awscdk.CfnElement))
	plugin := &nagV3StandIn{controls: map[string]map[string]string{
		"Controls": {bucketID: "AwsSolutions-S1", groupID: "AwsSolutions-EC23"},
	}}
	awscdk.Validations_Of(app).AddPlugins(plugin)

	// The unacknowledged findings are errors, so synthesis fails after
	// writing its report.
	func() {
		defer func() { _ = recover() }()
		app.Synth(nil)
	}()
	if !plugin.called {
		t.Fatal("aws-cdk-lib did not call the Go plugin's Validate")
	}
	raw, err := os.ReadFile(filepath.Join(*app.Outdir(), "validation-report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var report validationReport
	if err := json.Unmarshal(raw, &report); err != nil {
		t.Fatal(err)
	}
	var violations []reportedViolation
	var suppressed []suppressedViolation
	for _, p := range report.PluginReports {
		if p.PluginName == "AwsSolutions" {
			violations, suppressed = p.Violations, p.SuppressedViolations
		}
	}

	// key names a finding: "stack logical-ID rule". The report gives the
	// construct path, whose first element is the stack's.
	key := func(stack, logicalID, rule string) string { return stack + " " + logicalID + " " + rule }
	stackOf := func(path string) string { stack, _, _ := strings.Cut(path, "/"); return stack }
	acknowledged := map[string]suppressedViolation{}
	for _, s := range suppressed {
		for _, c := range s.ViolatingConstructs {
			acknowledged[key(stackOf(c.ConstructPath), c.CloudFormationResource.LogicalID, s.RuleName)] = s
		}
	}
	var unacknowledged []string
	for _, v := range violations {
		for _, c := range v.ViolatingConstructs {
			unacknowledged = append(unacknowledged, key(stackOf(c.ConstructPath), c.CloudFormationResource.LogicalID, v.RuleName))
		}
	}
	sort.Strings(unacknowledged)
	wantUnacknowledged := []string{key("Controls", bucketID, "AwsSolutions-S1"), key("Controls", groupID, "AwsSolutions-EC23")}
	sort.Strings(wantUnacknowledged)
	if !slices.Equal(unacknowledged, wantUnacknowledged) {
		t.Errorf("unacknowledged findings %v, want exactly the controls %v", unacknowledged, wantUnacknowledged)
	}

	suppressions := 0
	for _, f := range plugin.reported {
		if f.reason == "" {
			continue // a control
		}
		suppressions++
		s, ok := acknowledged[key(f.stack, f.logicalID, f.rule)]
		if !ok {
			t.Errorf("%s: %s on %s is suppressed in the template but not acknowledged", f.stack, f.rule, f.logicalID)
			continue
		}
		if s.AcknowledgedID != "AwsSolutions::"+f.rule || s.Reason != f.reason {
			t.Errorf("%s: %s on %s is acknowledged as %q with reason %q, want %q with the template's reason %q",
				f.stack, f.rule, f.logicalID, s.AcknowledgedID, s.Reason, "AwsSolutions::"+f.rule, f.reason)
		}
	}
	// The examples suppress at least the library's rules on the NLB, its
	// group, the roles, the default security group's provider and the
	// examples' own task definitions: many, in every stack.
	if suppressions < len(stacks.Names)*3 {
		t.Errorf("only %d suppressed findings reported: the templates' cdk_nag metadata was not read", suppressions)
	}
	t.Logf("%d suppressed findings acknowledged, %d controls not", suppressions, len(unacknowledged))
}
