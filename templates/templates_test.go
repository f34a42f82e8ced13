package templates

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	update = flag.Bool("update", false, "rewrite each template's testdata/ with its generated app's snapshots")
	keep   = flag.Bool("keep", false, "keep the generated apps, and log where they are")
)

// module is the library's module path, which the generated apps require.
const module = "github.com/passthrough-cdk/passthrough"

// testImage is the container image that the examples and the template apps
// are synthesized with for the comparison: the examples' `image` context
// value replaces the example server (built from this repository) with a
// registry image, which is what a template app runs.
const testImage = "registry.example.com/passthrough-template-check:1"

// variant is one synthesis of a template app for the comparison: the
// context that makes it synthesize the example stacks it is made from, and
// their names. The context gives the app's stacks the examples' names, so
// that the names CloudFormation and aws-cdk-lib derive from a stack's name
// (alarm names, task definition families) are the same too.
type variant struct {
	context []string
	stacks  []string
}

// architectures lists every template, the stacks it makes by default, and
// the examples it is made from.
var architectures = []struct {
	template string
	stacks   []string
	variants []variant
}{
	{"public-services", []string{"PublicServices"}, []variant{
		{[]string{"stackName=PassthroughPublicServicesFargate"}, []string{"PassthroughPublicServicesFargate"}},
		{[]string{"stackName=PassthroughPublicServicesEC2", "launchType=EC2"}, []string{"PassthroughPublicServicesEC2"}},
	}},
	{"service-to-service", []string{"ServiceToService"}, []variant{
		{[]string{"stackName=PassthroughServiceToServiceFargate"}, []string{"PassthroughServiceToServiceFargate"}},
		{[]string{"stackName=PassthroughServiceToServiceEC2", "launchType=EC2"}, []string{"PassthroughServiceToServiceEC2"}},
	}},
	{"public-and-internal", []string{"PublicAndInternal"}, []variant{
		{[]string{"stackName=PassthroughPublicAndInternalFargate"}, []string{"PassthroughPublicAndInternalFargate"}},
	}},
	{"privatelink", []string{"PrivateLinkConsumer", "PrivateLinkProvider"}, []variant{
		{
			[]string{"providerStackName=PassthroughPrivateLinkProvider", "consumerStackName=PassthroughPrivateLinkConsumer"},
			[]string{"PassthroughPrivateLinkConsumer", "PassthroughPrivateLinkProvider"},
		},
	}},
}

// withoutTemplate are the example stacks that no template is made from,
// each with the reason. An example is a template's when it shows one of the
// design's architectures; one that shows another way to run an
// architecture a template already makes (a certificate source, say) is
// documented in the README and docs/templates.md instead.
var withoutTemplate = map[string]string{
	"PassthroughACMCertificateFargate": "architecture 1 (public-services) with its certificate from ACM: a certificate source, not an architecture",
}

// exampleCoverage returns a problem for each example stack that is neither
// made by a template nor listed in withoutTemplate, and for each entry of
// withoutTemplate that is no example stack or that a template makes after
// all, so that a new example is a decision, not an oversight.
func exampleCoverage(examples []string, without map[string]string) []string {
	made := map[string]string{}
	for _, arch := range architectures {
		for _, v := range arch.variants {
			for _, s := range v.stacks {
				made[s] = arch.template
			}
		}
	}
	sort.Strings(examples)
	var problems []string
	for _, name := range examples {
		if _, ok := without[name]; !ok && made[name] == "" {
			problems = append(problems, fmt.Sprintf("the example stack %s is made by no template: add a template (docs/templates.md), or list it in withoutTemplate with the reason", name))
		}
	}
	var listed []string
	for name := range without {
		listed = append(listed, name)
	}
	sort.Strings(listed)
	for _, name := range listed {
		if !slices.Contains(examples, name) {
			problems = append(problems, fmt.Sprintf("withoutTemplate lists %s, which is no example stack (examples: %s)", name, strings.Join(examples, ", ")))
		}
		if tmpl := made[name]; tmpl != "" {
			problems = append(problems, fmt.Sprintf("withoutTemplate lists %s, which the template %s is made from", name, tmpl))
		}
	}
	return problems
}

// repoRoot is the repository's root: the test runs in templates/.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// Each template creates, with `cdk init` as a new user runs it, an app whose
// own tests pass, which synthesizes with the recommended feature flags
// configured, and whose stacks are the example stacks they are made from,
// apart from names.
func TestTemplatesMakeAppsThatMatchTheExamples(t *testing.T) {
	root := repoRoot(t)
	env := toolEnv(t, root)
	examples := synthesizeExamples(t, root, env)
	var exampleNames []string
	for name := range examples {
		exampleNames = append(exampleNames, name)
	}
	for _, p := range exampleCoverage(exampleNames, withoutTemplate) {
		t.Error(p)
	}
	flags := recommendedFlags(t, env)
	for _, arch := range architectures {
		t.Run(arch.template, func(t *testing.T) {
			app := t.TempDir()
			if *keep {
				var err error
				if app, err = os.MkdirTemp("", arch.template+"-"); err != nil {
					t.Fatal(err)
				}
				t.Logf("app in %s", app)
			}
			run(t, app, env, "cdk", "init", "--unstable=init", "--from-path", filepath.Join(root, "templates"),
				"--template-path", arch.template, "--language", "go", "--generate-only")
			checkFiles(t, app)
			checkFlags(t, app, flags)

			// The library is not published yet: the app uses this checkout.
			run(t, app, env, "go", "mod", "edit", "-replace", module+"="+root)
			run(t, app, env, "go", "mod", "tidy")
			if *update {
				run(t, app, env, "go", "test", "-count=1", "./...", "-update")
				copySnapshots(t, app, filepath.Join(root, "templates", arch.template, "go", "testdata"))
			}
			run(t, app, env, "go", "vet", "./...")
			run(t, app, env, "go", "test", "-count=1", "./...")

			// `cdk synth` as the user runs it.
			if got, want := keys(synthesize(t, app, env, nil)), strings.Join(arch.stacks, ", "); got != want {
				t.Errorf("cdk synth made stacks %s, want %s", got, want)
			}
			for _, v := range arch.variants {
				context := append([]string{"image=" + testImage}, v.context...)
				got := synthesize(t, app, env, context)
				if names, want := keys(got), strings.Join(v.stacks, ", "); names != want {
					t.Errorf("cdk synth -c %v made stacks %s, want %s", context, names, want)
				}
				for _, stack := range v.stacks {
					if got[stack] == nil {
						continue
					}
					diffs, err := compareStacks(stackTemplate{stack, got[stack]}, stackTemplate{stack, examples[stack]})
					if err != nil {
						t.Fatal(err)
					}
					const limit = 30
					for i, d := range diffs {
						if i == limit {
							t.Errorf("... and %d more", len(diffs)-limit)
							break
						}
						t.Errorf("%s (-c %v) differs from the example at %s", stack, context, d)
					}
					if len(diffs) > 0 {
						t.Errorf("The template %s has drifted from the example %s: bring the example's change into templates/%[1]s/go, then run `make templates UPDATE=1` (docs/templates.md).", arch.template, stack)
					}
				}
			}
		})
	}
}

// toolEnv is the environment of every command: the CDK CLI and the Node.js
// that jsii runs on from node_modules/.bin, as `make tools` installs them,
// and no Go workspace.
func toolEnv(t *testing.T, root string) []string {
	t.Helper()
	bin := filepath.Join(root, "node_modules", ".bin")
	if _, err := os.Stat(filepath.Join(bin, "cdk")); err != nil {
		t.Fatalf("no CDK CLI in %s: run `make tools` first (%v)", bin, err)
	}
	return append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "GOWORK=off")
}

// run runs a command in dir and fails the test with its output if it fails.
// It returns the combined output, and logs how long the command took.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = env
	start := time.Now()
	out, err := cmd.CombinedOutput()
	line := strings.Join(append([]string{name}, args...), " ")
	if err != nil {
		t.Fatalf("%s: %v\n%s", line, err, out)
	}
	t.Logf("%6.1fs  %s", time.Since(start).Seconds(), line)
	return string(out)
}

var (
	examplesOnce sync.Once
	examplesJSON map[string][]byte
)

// synthesizeExamples runs `cdk synth` on the example app with the test
// image, once for all templates.
func synthesizeExamples(t *testing.T, root string, env []string) map[string][]byte {
	t.Helper()
	examplesOnce.Do(func() { examplesJSON = synthesize(t, root, env, []string{"image=" + testImage}) })
	if len(examplesJSON) == 0 {
		t.Fatal("the example app synthesized no stack")
	}
	return examplesJSON
}

// synthesize runs `cdk synth` in dir with the context values given,
// checks that the CLI found every recommended feature flag configured, and
// returns every stack's template by stack name.
func synthesize(t *testing.T, dir string, env []string, context []string) map[string][]byte {
	t.Helper()
	out := t.TempDir()
	args := []string{"synth", "--quiet", "--no-notices", "--output", out}
	for _, c := range context {
		args = append(args, "-c", c)
	}
	if output := run(t, dir, env, "cdk", args...); strings.Contains(output, "feature flags are not configured") {
		t.Errorf("cdk synth in %s: %s", dir, output)
	}
	files, err := filepath.Glob(filepath.Join(out, "*.template.json"))
	if err != nil {
		t.Fatal(err)
	}
	templates := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		templates[strings.TrimSuffix(filepath.Base(f), ".template.json")] = b
	}
	return templates
}

// recommendedFlags are the feature flags that the pinned CLI writes into
// the cdk.json of a new app made from its own Go template.
func recommendedFlags(t *testing.T, env []string) map[string]any {
	t.Helper()
	dir := t.TempDir()
	run(t, dir, env, "cdk", "init", "app", "--language", "go", "--generate-only")
	return readContext(t, filepath.Join(dir, "cdk.json"))
}

func readContext(t *testing.T, path string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return cfg.Context
}

// checkFlags checks that the app's cdk.json sets every feature flag that
// the CLI recommends, to the recommended value: custom templates get none
// from `cdk init`, so they ship their own.
func checkFlags(t *testing.T, app string, want map[string]any) {
	t.Helper()
	got := readContext(t, filepath.Join(app, "cdk.json"))
	for key, value := range want {
		if fmt.Sprint(got[key]) != fmt.Sprint(value) {
			t.Errorf("cdk.json: %s is %v; the CLI recommends %v", key, got[key], value)
		}
	}
}

// appFiles are what every generated app holds.
var appFiles = []string{
	"go.mod", "main.go", "app_test.go", "cdk.json", "README.md", ".gitignore",
	"Makefile", "package.json", "package-lock.json", ".github/workflows/cdk.yml",
}

func checkFiles(t *testing.T, app string) {
	t.Helper()
	for _, f := range appFiles {
		if _, err := os.Stat(filepath.Join(app, f)); err != nil {
			t.Errorf("the app has no %s: %v", f, err)
		}
	}
	if snapshots, _ := filepath.Glob(filepath.Join(app, "testdata", "*.template.json")); len(snapshots) == 0 && !*update {
		t.Error("the app has no snapshot in testdata/")
	}
}

// copySnapshots replaces the template's snapshots with the app's.
func copySnapshots(t *testing.T, app, testdata string) {
	t.Helper()
	old, _ := filepath.Glob(filepath.Join(testdata, "*.template.json"))
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(testdata, 0o755); err != nil {
		t.Fatal(err)
	}
	snapshots, _ := filepath.Glob(filepath.Join(app, "testdata", "*.template.json"))
	for _, f := range snapshots {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(testdata, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", filepath.Join(testdata, filepath.Base(f)))
	}
}

// keys lists a map's keys, sorted, for messages.
func keys[V any](m map[string]V) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}
