// Package test holds the snapshot tests of every example stack: golden
// templates under testdata/, regenerated with `go test ./... -update`,
// and beside them targeted assertions for every guarantee a snapshot update
// could otherwise quietly drop.
package test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/examples/stacks"
	"github.com/passthrough-cdk/passthrough/internal/cdktest"
)

// example is one synthesized example stack.
type example struct {
	name     string
	template map[string]any
	// golden is the template as the golden file holds it: indented JSON
	// with volatile values normalized.
	golden []byte
	// notices are the info and warning annotations synthesis recorded on
	// the stack's constructs, as "level path: message".
	notices []string
}

var (
	examplesOnce sync.Once
	examplesList []example
)

// synthesizeExamples builds the example app exactly as `cdk synth` does
// (same stacks, same cdk.json context) and returns every stack's template.
func synthesizeExamples(t testing.TB) []example {
	t.Helper()
	app := cdktest.NewApp(t, cdktest.AppContext(t))
	all := stacks.All(app)
	assembly := cdktest.Synth(t, app)
	var out []example
	for _, stack := range all {
		name := *stack.StackName()
		artifact := assembly.GetStackByName(jsii.String(name))
		template, ok := artifact.Template().(map[string]any)
		if !ok {
			t.Fatalf("stack %s: template is not a JSON object", name)
		}
		var notices []string
		for _, m := range *artifact.Messages() {
			if m.Level != cxapi.SynthesisMessageLevel_ERROR {
				notices = append(notices, fmt.Sprintf("%s %s: %v", m.Level, *m.Id, m.Entry.Data))
			}
		}
		out = append(out, example{name: name, template: template, golden: normalize(t, template), notices: notices})
	}
	return out
}

// examples synthesizes the example app once for all tests of the package.
func examples(t *testing.T) []example {
	t.Helper()
	examplesOnce.Do(func() { examplesList = synthesizeExamples(t) })
	if len(examplesList) == 0 {
		t.Fatal("the example app has no stacks")
	}
	return examplesList
}

// assetHash matches the SHA-256 hashes that name assets (container images,
// Lambda code): they change with every change to the files an asset holds,
// not with what the template means.
var assetHash = regexp.MustCompile(`[0-9a-f]{64}`)

// normalize renders a template as the golden files hold it. Logical IDs are
// kept as they are: renaming one replaces the resource, which is exactly what
// the snapshot must show.
func normalize(t testing.TB, template map[string]any) []byte {
	t.Helper()
	b, err := json.MarshalIndent(template, "", "  ")
	if err != nil {
		t.Fatalf("marshal template: %v", err)
	}
	b = assetHash.ReplaceAll(b, []byte("<asset-hash>"))
	return append(b, '\n')
}

// forEachExample runs check as a subtest on the template of every example.
func forEachExample(t *testing.T, check func(t *testing.T, tpl *cdktest.Template)) {
	for _, ex := range examples(t) {
		t.Run(ex.name, func(t *testing.T) {
			check(t, cdktest.TemplateFromJSON(t, ex.template))
		})
	}
}

// Every example deploys to any account and region: synthesis needs no
// credentials.
func TestExamplesAreEnvironmentAgnostic(t *testing.T) {
	app := cdktest.NewApp(t, cdktest.AppContext(t))
	for _, stack := range stacks.All(app) {
		if !*awscdk.Token_IsUnresolved(stack.Account()) || !*awscdk.Token_IsUnresolved(stack.Region()) {
			t.Errorf("%s is bound to account %s region %s", *stack.StackName(), *stack.Account(), *stack.Region())
		}
	}
}
