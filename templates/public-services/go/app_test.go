package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough/passthroughtest"
)

var update = flag.Bool("update", false, "rewrite the golden templates in testdata/")

var (
	synthOnce sync.Once
	templates map[string][]byte
)

// synthesized synthesizes the app once for all tests.
func synthesized(t *testing.T) map[string][]byte {
	t.Helper()
	synthOnce.Do(func() { templates = synthesize(t) })
	if len(templates) == 0 {
		t.Fatal("the app has no stacks")
	}
	return templates
}

// synthesize builds this app as `cdk synth` does, with the context in
// cdk.json, and returns each stack's template by stack name, as the golden
// files hold it: indented, with asset hashes replaced (they change with
// every change to an asset's files, not with what the template means).
// Logical IDs are kept: a renamed one replaces its resource on deployment,
// which is what a snapshot must show.
func synthesize(t *testing.T) map[string][]byte {
	t.Helper()
	raw, err := os.ReadFile("cdk.json")
	if err != nil {
		t.Fatal(err)
	}
	var cdkJSON struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(raw, &cdkJSON); err != nil {
		t.Fatalf("cdk.json: %v", err)
	}
	app := awscdk.NewApp(&awscdk.AppProps{
		Context:            &cdkJSON.Context,
		Outdir:             jsii.String(t.TempDir()),
		AnalyticsReporting: jsii.Bool(false),
	})
	stacks, err := addStacks(app)
	if err != nil {
		t.Fatal(err)
	}
	assembly := app.Synth(nil)
	templates := map[string][]byte{}
	for _, stack := range stacks {
		name := *stack.StackName()
		b, err := json.MarshalIndent(assembly.GetStackByName(jsii.String(name)).Template(), "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		templates[name] = append(assetHash.ReplaceAll(b, []byte("<asset-hash>")), '\n')
	}
	return templates
}

var assetHash = regexp.MustCompile(`[0-9a-f]{64}`)

// Each stack's template is the one in testdata/. After an intended change,
// run `go test ./... -update` and review the diff of testdata/ before
// committing it.
func TestSnapshot(t *testing.T) {
	for name, got := range synthesized(t) {
		path := filepath.Join("testdata", name+".template.json")
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run `go test ./... -update` to create it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("template of %s differs from %s:\n%s\nIf the change is intended, run `go test ./... -update` and review `git diff testdata` before committing it.",
				name, path, firstDifference(string(want), string(got)))
		}
	}
	if *update {
		return
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "*.template.json"))
	for _, f := range files {
		if _, ok := synthesized(t)[strings.TrimSuffix(filepath.Base(f), ".template.json")]; !ok {
			t.Errorf("%s belongs to no stack of the app any more; delete it", f)
		}
	}
}

// firstDifference shows the first line where want and got differ, with the
// lines around it: "-" from want, "+" from got.
func firstDifference(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	i := 0
	for i < len(w) && i < len(g) && w[i] == g[i] {
		i++
	}
	var b strings.Builder
	for _, side := range []struct {
		sign  string
		lines []string
	}{{"-", w}, {"+", g}} {
		for j := max(i-2, 0); j < min(i+3, len(side.lines)); j++ {
			sign := " "
			if j >= i {
				sign = side.sign
			}
			b.WriteString(sign + " " + side.lines[j] + "\n")
		}
	}
	return "at line " + strconv.Itoa(i+1) + ":\n" + b.String()
}

// The load balancer passes TLS through (TCP listeners only, no certificate
// or TLS policy), every listener reaches its service through security group
// rules that open each hop, and no rule opens anything else.
func TestPassthroughGuarantees(t *testing.T) {
	for name, template := range synthesized(t) {
		problems, err := passthroughtest.Problems(template)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, p := range problems {
			t.Errorf("%s: %s", name, p)
		}
	}
}
