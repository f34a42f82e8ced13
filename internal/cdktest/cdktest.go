// Package cdktest holds the helpers that Passthrough's construct tests and
// snapshot tests share: apps built like the example app, and assertions on
// synthesized templates that report a mismatch through testing.T instead of
// a jsii panic.
package cdktest

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
	_ "github.com/passthrough-cdk/passthrough/internal/golden" // accepts the -update of `go test ./... -update`
)

// RepoRoot is the repository's root directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// AppContext is the "context" object of the repository's cdk.json: the
// feature flags `cdk synth` runs the example app with.
func AppContext(t testing.TB) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(RepoRoot(), "cdk.json"))
	if err != nil {
		t.Fatalf("read cdk.json: %v", err)
	}
	var cfg struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatalf("parse cdk.json: %v", err)
	}
	return cfg.Context
}

// NewApp is an app that writes its cloud assembly to a temporary directory
// and leaves out the CDK version metadata, which changes with every CDK
// release. extra context values are added to ctx (which may be nil).
func NewApp(t testing.TB, ctx map[string]any) awscdk.App {
	t.Helper()
	merged := map[string]any{}
	for k, v := range ctx {
		merged[k] = v
	}
	return awscdk.NewApp(&awscdk.AppProps{
		Outdir:             jsii.String(t.TempDir()),
		Context:            &merged,
		AnalyticsReporting: jsii.Bool(false),
	})
}

// NewStack is a stack in a new app with aws-cdk-lib's default feature flags.
func NewStack(t testing.TB) awscdk.Stack {
	t.Helper()
	return awscdk.NewStack(NewApp(t, nil), jsii.String("Test"), nil)
}

// Template wraps assertions.Template so that a failed assertion fails the
// test with the assertion's own message (which names the closest match)
// instead of panicking. The template's JSON is read across jsii once and
// kept: every Resources and JSON call used to serialize the whole template
// in aws-cdk-lib's Node.js process and parse it again, which made a check
// over every example cost seconds. The assertions.Template itself is made
// only when an assertion needs it.
type Template struct {
	t          testing.TB
	json       map[string]any
	assertions assertions.Template
}

// TemplateOf synthesizes stack.
func TemplateOf(t testing.TB, stack awscdk.Stack) *Template {
	t.Helper()
	var tpl assertions.Template
	if err := catch(func() { tpl = assertions.Template_FromStack(stack, nil) }); err != nil {
		t.Fatalf("synthesize %s: %v", *stack.StackName(), err)
	}
	return &Template{t: t, json: *tpl.ToJSON(), assertions: tpl}
}

// TemplateFromJSON wraps an already synthesized template. The template is
// shared, not copied: checks read it, none may change it.
func TemplateFromJSON(t testing.TB, template map[string]any) *Template {
	return &Template{t: t, json: template}
}

// Assertions is aws-cdk-lib's assertions.Template of the template.
func (tp *Template) Assertions() assertions.Template {
	if tp.assertions == nil {
		tp.assertions = assertions.Template_FromJSON(&tp.json, nil)
	}
	return tp.assertions
}

// Has asserts that a resource of type typ has properties matching props.
func (tp *Template) Has(typ string, props map[string]any) {
	tp.t.Helper()
	if err := catch(func() { tp.Assertions().HasResourceProperties(jsii.String(typ), props) }); err != nil {
		tp.t.Errorf("%s: %v", typ, err)
	}
}

// Count asserts the number of resources of type typ.
func (tp *Template) Count(typ string, n int) {
	tp.t.Helper()
	if err := catch(func() { tp.Assertions().ResourceCountIs(jsii.String(typ), jsii.Number(float64(n))) }); err != nil {
		tp.t.Errorf("%s: %v", typ, err)
	}
}

// CountWith asserts the number of resources of type typ whose properties
// match props.
func (tp *Template) CountWith(typ string, props map[string]any, n int) {
	tp.t.Helper()
	if err := catch(func() { tp.Assertions().ResourcePropertiesCountIs(jsii.String(typ), props, jsii.Number(float64(n))) }); err != nil {
		tp.t.Errorf("%s: %v", typ, err)
	}
}

// Resources returns the logical IDs and properties of the resources of type
// typ.
func (tp *Template) Resources(typ string) map[string]map[string]any {
	return ResourcesOf(tp.json, typ)
}

// JSON is the whole template.
func (tp *Template) JSON() map[string]any {
	return tp.json
}

// ResourcesOf returns the logical IDs and properties of the resources of
// type typ in template.
func ResourcesOf(template map[string]any, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	resources, _ := template["Resources"].(map[string]any)
	for id, r := range resources {
		res, _ := r.(map[string]any)
		if res["Type"] != typ {
			continue
		}
		props, _ := res["Properties"].(map[string]any)
		if props == nil {
			props = map[string]any{}
		}
		out[id] = props
	}
	return out
}

// catch runs f and returns what it panicked with, as an error whose message
// is the first lines of the jsii error, without the JavaScript stack.
func catch(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			msg := fmt.Sprint(r)
			if i := strings.Index(msg, "\n    at "); i > 0 {
				msg = msg[:i]
			}
			err = errors.New(msg)
		}
	}()
	f()
	return nil
}

// Invalid runs f, which must panic with a *passthrough.ValidationError, and
// returns that error. Any other outcome (no panic, or a panic with another
// value, such as a nil dereference or a jsii error) fails the test.
func Invalid(t testing.TB, f func()) (got *passthrough.ValidationError) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Fatalf("no error: want a *passthrough.ValidationError")
		}
		err, ok := r.(error)
		if !ok || !errors.As(err, &got) {
			t.Fatalf("panicked with %T %v; want a *passthrough.ValidationError", r, r)
		}
	}()
	f()
	return nil
}

// Synth synthesizes app and returns its cloud assembly. A synthesis error
// fails the test instead of panicking, which would abort the whole test
// binary and hide every other result: the message is the jsii error's first
// lines and, when aws-cdk-lib wrote a validation report before refusing the
// app (strict CloudFormation validation, policy-validation plugins), every
// violation in it, read while the app's output directory still exists.
func Synth(t testing.TB, app awscdk.App) cxapi.CloudAssembly {
	t.Helper()
	var assembly cxapi.CloudAssembly
	err := catch(func() { assembly = app.Synth(nil) })
	if err == nil {
		return assembly
	}
	// The error names the report's path, a temporary directory the test
	// removes: the findings themselves are what the failure shows.
	err = errors.New(reportPath.ReplaceAllString(err.Error(), ""))
	findings, reportErr := ValidationFindings(*app.Outdir())
	switch {
	case reportErr != nil:
		t.Fatalf("synthesis failed: %v", err)
	case len(findings) == 0:
		t.Fatalf("synthesis failed: %v (the validation report lists no violation)", err)
	default:
		t.Fatalf("synthesis failed: %v\n%s", err, strings.Join(findings, "\n"))
	}
	return nil
}

// reportPath is the sentence of a ValidationFailed error that points at the
// report file.
var reportPath = regexp.MustCompile(` ?A copy of this report can be found in: \S+`)

// ValidationFindings reads the validation report that aws-cdk-lib writes
// into an assembly directory and returns one line per violation and per
// plugin whose conclusion is not "success". A missing report is an error:
// the built-in validation did not run.
func ValidationFindings(outdir string) ([]string, error) {
	raw, err := os.ReadFile(filepath.Join(outdir, "validation-report.json"))
	if err != nil {
		return nil, err
	}
	var report struct {
		PluginReports []struct {
			PluginName string `json:"pluginName"`
			Conclusion string `json:"conclusion"`
			Violations []struct {
				RuleName            string `json:"ruleName"`
				Description         string `json:"description"`
				ViolatingConstructs []struct {
					ConstructPath string `json:"constructPath"`
				} `json:"violatingConstructs"`
			} `json:"violations"`
		} `json:"pluginReports"`
	}
	if err := json.Unmarshal(raw, &report); err != nil {
		return nil, fmt.Errorf("parse %s: %w", filepath.Join(outdir, "validation-report.json"), err)
	}
	if len(report.PluginReports) == 0 {
		return nil, errors.New("the validation report has no plugin report: the built-in validation did not run")
	}
	var findings []string
	for _, p := range report.PluginReports {
		if p.Conclusion != "success" && len(p.Violations) == 0 {
			findings = append(findings, fmt.Sprintf("%s: conclusion %s", p.PluginName, p.Conclusion))
		}
		for _, v := range p.Violations {
			var where []string
			for _, c := range v.ViolatingConstructs {
				where = append(where, c.ConstructPath)
			}
			findings = append(findings, fmt.Sprintf("%s: %s: %s (%s)", p.PluginName, v.RuleName, v.Description, strings.Join(where, ", ")))
		}
	}
	return findings, nil
}
