package test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/jsii-runtime-go"
	jsiiruntime "github.com/aws/jsii-runtime-go/runtime"

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

// nagV3Run runs TestCdkNagV3Subprocess in a process of its own, in the
// background (background_test.go).
var nagV3Run = inBackground(func() ([]byte, error) {
	cmd := exec.Command(os.Args[0], "-test.run", "^TestCdkNagV3Subprocess$", "-test.count=1")
	cmd.Env = append(os.Environ(), nagV3Env+"=1")
	return cmd.CombinedOutput()
})

// Every suppression in the templates (the library's, and the examples'
// own) is also an aws-cdk-lib validation acknowledgement that a
// policy-validation plugin's finding of that rule on that resource is
// suppressed by, with the same reason; a finding nothing acknowledges stays
// a violation, and so does AwsSolutions-EC23 on a load balancer group whose
// suppression the library took back for an administration port.
func TestSuppressionsAreValidationAcknowledgements(t *testing.T) {
	if offloaded(t) {
		return
	}
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

// cdk-nag v3 itself, from npm (pinned in package.json), loaded into jsii's
// kernel by hand: its Go module is not available here. It is loaded in a
// process of its own, since the kernel holds one version of a package and
// the other tests load cdk-nag v2 under the same name.
const (
	nagV3Env     = "PASSTHROUGH_CDK_NAG_V3"
	nagV3Version = "3.0.2"
)

// nagV3Tarball packs node_modules/cdk-nag the way npm pack does (every file
// under package/), which is what the kernel loads.
func nagV3Tarball(t *testing.T) []byte {
	t.Helper()
	dir := filepath.Join(cdktest.RepoRoot(), "node_modules", "cdk-nag")
	var manifest struct {
		Version string `json:"version"`
	}
	if raw, err := os.ReadFile(filepath.Join(dir, "package.json")); err != nil || json.Unmarshal(raw, &manifest) != nil || manifest.Version != nagV3Version {
		t.Fatalf("node_modules/cdk-nag is not cdk-nag %s (%v): run `make tools`", nagV3Version, err)
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name = "package/" + filepath.ToSlash(rel)
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		_, err = tw.Write(raw)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = gz.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// libraryApp adds to app stacks that make every suppression of the library:
// the example stacks cannot be used here, since they suppress their own
// findings with cdk-nag v2's API, which loads v2 into the kernel.
func libraryApp(app awscdk.App) {
	image := awsecs.ContainerImage_FromRegistry(jsii.String("registry.example.com/api:1"), nil)
	stack := awscdk.NewStack(app, jsii.String("Library"), nil)
	awscdk.Aspects_Of(stack).Add(passthrough.NewStrictCompliance(&passthrough.StrictComplianceProps{DeletionProtection: jsii.Bool(false)}), nil)
	secret := awssecretsmanager.Secret_FromSecretCompleteArn(stack, jsii.String("Cert"),
		jsii.String("arn:aws:secretsmanager:us-east-1:111122223333:secret:passthrough/cert-AbCdEf"))
	cluster := passthrough.NewCluster(stack, jsii.String("Cluster"), &passthrough.ClusterProps{EC2: &passthrough.EC2CapacityProps{}})
	public := passthrough.NewLoadBalancer(stack, jsii.String("Public"), &passthrough.LoadBalancerProps{
		Vpc: cluster.Vpc, PrivateListenerPorts: []float64{8443},
	})
	internal := passthrough.NewLoadBalancer(stack, jsii.String("Internal"), &passthrough.LoadBalancerProps{
		Vpc: cluster.Vpc, InternetFacing: jsii.Bool(false),
	})
	zone := awsroute53.NewPrivateHostedZone(stack, jsii.String("Zone"), &awsroute53.PrivateHostedZoneProps{
		ZoneName: jsii.String("internal.example"), Vpc: cluster.Vpc,
	})
	public.AddPrivateDNSName(zone, "lb")
	api := passthrough.NewFargateService(stack, jsii.String("Api"), &passthrough.FargateServiceProps{ServiceProps: passthrough.ServiceProps{
		Cluster: cluster, LoadBalancer: public, Image: image, Certificate: &passthrough.Certificate{Secret: secret},
	}})
	back := passthrough.NewFargateService(stack, jsii.String("Back"), &passthrough.FargateServiceProps{ServiceProps: passthrough.ServiceProps{
		Cluster: cluster, LoadBalancer: public, Image: image, ListenerPort: jsii.Number(8443),
	}})
	back.GrantConnect(api, "BACK_ADDRESS")
	passthrough.NewEC2Service(stack, jsii.String("Worker"), &passthrough.EC2ServiceProps{ServiceProps: passthrough.ServiceProps{
		Cluster: cluster, LoadBalancer: internal, Image: image,
	}})
	// A NAT path on a load balancer of its own.
	nat := awscdk.NewStack(app, jsii.String("NatPath"), nil)
	natCluster := passthrough.NewCluster(nat, jsii.String("Cluster"), nil)
	natLB := passthrough.NewLoadBalancer(nat, jsii.String("LB"), &passthrough.LoadBalancerProps{
		Vpc: natCluster.Vpc, PrivateListenerPorts: []float64{8443},
	})
	natLB.AllowCallersThroughNAT()
	front := passthrough.NewFargateService(nat, jsii.String("Front"), &passthrough.FargateServiceProps{ServiceProps: passthrough.ServiceProps{
		Cluster: natCluster, LoadBalancer: natLB, Image: image,
	}})
	passthrough.NewFargateService(nat, jsii.String("Back"), &passthrough.FargateServiceProps{ServiceProps: passthrough.ServiceProps{
		Cluster: natCluster, LoadBalancer: natLB, Image: image, ListenerPort: jsii.Number(8443),
	}}).GrantConnect(front, "BACK_ADDRESS")
	// GrantConnect leaves AwsSolutions-ECS2 on the caller to its owner, who
	// acknowledges it as the examples do.
	awscdk.Validations_Of(front.TaskDefinition).Acknowledge(&awscdk.Acknowledgment{
		Id:     jsii.String("AwsSolutions::AwsSolutions-ECS2"),
		Reason: jsii.String("BACK_ADDRESS is the HOST:PORT of the service Front calls; nothing secret"),
	})
}

// jsiiProxy_nagV3Pack is a Go handle on a cdk-nag v3 pack created in the
// kernel: its methods call the JavaScript object (the name's prefix tells
// the jsii runtime that they are not Go overrides).
type jsiiProxy_nagV3Pack struct{ _ byte }

func (p *jsiiProxy_nagV3Pack) Name() *string {
	var r *string
	jsiiruntime.Get(p, "name", &r)
	return r
}

func (p *jsiiProxy_nagV3Pack) Version() *string {
	var r *string
	jsiiruntime.Get(p, "version", &r)
	return r
}

func (p *jsiiProxy_nagV3Pack) RuleIds() *[]*string {
	var r *[]*string
	jsiiruntime.Get(p, "ruleIds", &r)
	return r
}

func (p *jsiiProxy_nagV3Pack) Validate(ctx awscdk.IPolicyValidationContext) *awscdk.PolicyValidationPluginReport {
	var r *awscdk.PolicyValidationPluginReport
	jsiiruntime.Invoke(p, "validate", []any{ctx}, &r)
	return r
}

func TestCdkNagV3Subprocess(t *testing.T) {
	if os.Getenv(nagV3Env) == "" {
		t.Skip("runs only as the subprocess of TestCdkNagV3FindsOnlyWhatNothingAcknowledges")
	}
	app := cdktest.NewApp(t, cdktest.AppContext(t))
	libraryApp(app)
	controls := awscdk.NewStack(app, jsii.String("Controls"), nil)
	awss3.NewBucket(controls, jsii.String("Bucket"), nil) // no SSL enforcement, no access logs
	jsiiruntime.Load("cdk-nag", nagV3Version, nagV3Tarball(t))
	pack := &jsiiProxy_nagV3Pack{}
	jsiiruntime.Create("cdk-nag.AwsSolutionsChecks", []any{app}, pack)
	awscdk.Validations_Of(app).AddPlugins(pack)
	func() {
		defer func() { _ = recover() }() // the bucket's findings fail synthesis
		app.Synth(nil)
	}()
	raw, err := os.ReadFile(filepath.Join(*app.Outdir(), "validation-report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var report validationReport
	if err := json.Unmarshal(raw, &report); err != nil {
		t.Fatal(err)
	}
	suppressed, controlFindings := 0, 0
	for _, p := range report.PluginReports {
		if p.PluginName != "AwsSolutions" {
			continue
		}
		for _, v := range p.Violations {
			for _, c := range v.ViolatingConstructs {
				if strings.HasPrefix(c.ConstructPath, "Controls/") {
					controlFindings++
				} else {
					t.Errorf("cdk-nag v3: %s on %s", v.RuleName, c.ConstructPath)
				}
			}
		}
		for _, s := range p.SuppressedViolations {
			if !strings.HasPrefix(s.AcknowledgedID, "AwsSolutions::") || s.Reason == "" {
				t.Errorf("%s on %v acknowledged as %q, reason %q", s.RuleName, s.ViolatingConstructs, s.AcknowledgedID, s.Reason)
			}
			suppressed += len(s.ViolatingConstructs)
		}
	}
	if controlFindings == 0 {
		t.Error("cdk-nag v3 found nothing in the non-compliant bucket: the pack did not run")
	}
	if suppressed < 10 {
		t.Errorf("cdk-nag v3 reported only %d acknowledged findings: the library's suppressions were not seen", suppressed)
	}
	fmt.Printf("cdk-nag %s: %d findings acknowledged, %d on the control bucket\n", nagV3Version, suppressed, controlFindings)
}

// cdk-nag v3's AwsSolutions pack, registered on an app that makes every
// suppression of the library, reports each suppressed finding as
// acknowledged (the validation report's suppressedViolations, with the
// reason), and nothing else but the findings of a deliberately
// non-compliant bucket.
func TestCdkNagV3FindsOnlyWhatNothingAcknowledges(t *testing.T) {
	out, err := nagV3Run.wait()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "cdk-nag ") {
			t.Log(line)
		}
	}
}
