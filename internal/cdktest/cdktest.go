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
	"runtime"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
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
// instead of panicking.
type Template struct {
	t testing.TB
	assertions.Template
}

// TemplateOf synthesizes stack.
func TemplateOf(t testing.TB, stack awscdk.Stack) *Template {
	t.Helper()
	var tpl assertions.Template
	if err := catch(func() { tpl = assertions.Template_FromStack(stack, nil) }); err != nil {
		t.Fatalf("synthesize %s: %v", *stack.StackName(), err)
	}
	return &Template{t: t, Template: tpl}
}

// TemplateFromJSON wraps an already synthesized template.
func TemplateFromJSON(t testing.TB, template map[string]any) *Template {
	t.Helper()
	return &Template{t: t, Template: assertions.Template_FromJSON(&template, nil)}
}

// Has asserts that a resource of type typ has properties matching props.
func (tp *Template) Has(typ string, props map[string]any) {
	tp.t.Helper()
	if err := catch(func() { tp.HasResourceProperties(jsii.String(typ), props) }); err != nil {
		tp.t.Errorf("%s: %v", typ, err)
	}
}

// Count asserts the number of resources of type typ.
func (tp *Template) Count(typ string, n int) {
	tp.t.Helper()
	if err := catch(func() { tp.ResourceCountIs(jsii.String(typ), jsii.Number(float64(n))) }); err != nil {
		tp.t.Errorf("%s: %v", typ, err)
	}
}

// CountWith asserts the number of resources of type typ whose properties
// match props.
func (tp *Template) CountWith(typ string, props map[string]any, n int) {
	tp.t.Helper()
	if err := catch(func() { tp.ResourcePropertiesCountIs(jsii.String(typ), props, jsii.Number(float64(n))) }); err != nil {
		tp.t.Errorf("%s: %v", typ, err)
	}
}

// Resources returns the logical IDs and properties of the resources of type
// typ.
func (tp *Template) Resources(typ string) map[string]map[string]any {
	tp.t.Helper()
	return ResourcesOf(tp.JSON(), typ)
}

// JSON is the whole template.
func (tp *Template) JSON() map[string]any {
	return *tp.ToJSON()
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
