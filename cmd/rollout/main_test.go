package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/passthrough-cdk/passthrough/internal/rollout"
)

const (
	doc       = "../../docs/rollout.md"
	goldenDir = "../../test/testdata"
	// fixture and scalingFixture are internal/rollout's hand-written
	// templates (internal/rollout/testdata/README.md): Passthrough's
	// defaults, and services whose task count comes from a DesiredCount, a
	// ScalableTarget or neither. Figures checked here come from them, not
	// from the golden templates, which change.
	fixture        = "../../internal/rollout/testdata/passthrough.template.json"
	scalingFixture = "../../internal/rollout/testdata/scaling.template.json"
	// regenerate is the command that writes doc, run from the repository root.
	regenerate = "go run ./cmd/rollout -measurements docs/measurements.json -write docs/rollout.md test/testdata/*.template.json"
	// measurements is what the deploy tests in test/integ measured.
	measurements = "../../docs/measurements.json"
)

func goldenTemplates(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(goldenDir, "*.template.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden templates in %s (err %v)", goldenDir, err)
	}
	return files
}

// docs/rollout.md is what the command prints for the golden templates and
// the measurements.
func TestDocIsCurrent(t *testing.T) {
	got, err := document(goldenTemplates(t), rollout.DefaultConstants(), measurements)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(doc)
	if err != nil {
		t.Fatalf("%v: create it with `%s`", err, regenerate)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("docs/rollout.md is stale: regenerate it with `%s` and review the diff.\nFirst difference:\n%s",
			regenerate, firstDifference(string(want), string(got)))
	}
}

// The output does not depend on the order of the arguments.
func TestOutputIsDeterministic(t *testing.T) {
	files := goldenTemplates(t)
	reversed := make([]string, len(files))
	for i, f := range files {
		reversed[len(files)-1-i] = f
	}
	a, err := render(files, rollout.DefaultConstants())
	if err != nil {
		t.Fatal(err)
	}
	b, err := render(reversed, rollout.DefaultConstants())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("the output depends on the order of the templates")
	}
}

// -write writes what standard output would show.
func TestWriteFlag(t *testing.T) {
	files := goldenTemplates(t)
	out := filepath.Join(t.TempDir(), "rollout.md")
	var stdout, stderr bytes.Buffer
	if code := run(append([]string{"-write", out}, files...), &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	written, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	if code := run(files, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !bytes.Equal(written, stdout.Bytes()) {
		t.Error("-write and standard output differ")
	}
}

// The constants are parameters: a drain window longer than the fixture's
// 120 s deregistration delay makes it unsafe, and a slower task start adds
// its difference to both sides: 310 + 15 = 325 s against 630 + 15 = 645 s,
// 1.98×.
func TestConstantFlags(t *testing.T) {
	var stdout, stderr bytes.Buffer
	args := []string{"-drain-window", "150s", "-task-start", "45s", fixture}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"| NLB drain window: new connections after deregistration | 150 s (2 min 30 s) |",
		"| drain margin = deregistration delay − drain window | -30 s | 150 s (2 min 30 s) |",
		"| **rollout = batches × batch** | **325 s (5 min 25 s)** | **645 s (10 min 45 s)** |",
		"| passthrough | ApiService | 2 | DesiredCount | 325 s (5 min 25 s) | 645 s (10 min 45 s) | 1.98× | 150 s (2 min 30 s) | **no** | **not met**: under 2×, unsafe |",
		"The deregistration delay of 120 s (2 min) is **unsafe** already at the modelled drain window of 150 s (2 min 30 s)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

// With the default constants the fixture meets the requirement with 10 s to
// spare (630 − 2 × 310 = 10 s on both sides), and the text says so and what
// the other figures of the sources do to it:
//
//	AWS Support 180 s: 30 + 180 + 10 + 120 + 30 = 370 s against
//	30 + 180 + 150 + 300 + 30 = 690 s, 1.86×, and 120 s < 180 s: unsafe;
//	one check: 30 + 120 + 5 + 120 + 30 = 305 s against
//	30 + 120 + 30 + 300 + 30 = 510 s, 1.67×;
//	task start 60 s: 340 s against 660 s, 1.94×.
func TestSensitivityText(t *testing.T) {
	out := render1(t, fixture)
	for _, want := range []string{
		"| as modelled above | 310 s (5 min 10 s) | 630 s (10 min 30 s) | 2.03× | yes | met |",
		"| registration delay and drain window 180 s (AWS Support, aws-load-balancer-controller#1834) | 370 s (6 min 10 s) | 690 s (11 min 30 s) | 1.86× | **no** | **not met**: under 2×, unsafe |",
		"| a new target healthy after one check (Amazon ECS guide) | 305 s (5 min 5 s) | 510 s (8 min 30 s) | 1.67× | yes | **not met**: under 2× |",
		"| image pull and task start 60 s (1 min) | 340 s (5 min 40 s) | 660 s (11 min) | 1.94× | yes | **not met**: under 2× |",
		"The requirement is met in 1 of the 4 scenarios (as modelled above).",
		"the speed-up stays at least 2× only while they take at most 10 s more, 160 s (2 min 40 s) in all.",
		"A registration delay above 130 s (2 min 10 s), within the reported 70 s (1 min 10 s) to 300 s (5 min), alone takes it below.",
		"The deregistration delay of 120 s (2 min) is safe at the modelled drain window of 120 s (2 min), with nothing to spare; " +
			"under AWS Support's 180 s (3 min) to 300 s (5 min) it is **unsafe**: a stopped task may still be sent new connections for 60 s (1 min) to 180 s (3 min) after the delay",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}

	// Stop timeout 60 s: 340 s against 630 s, 1.85×; 2 × 340 − 630 = 50 s too much.
	out = render1(t, modified(t, fixture, func(tmpl map[string]any) {
		for _, id := range []string{"ApiTaskDefinitionFA71DA57", "AdminTaskDefinition614B89E8"} {
			containers := resource(tmpl, id)["ContainerDefinitions"].([]any)
			containers[0].(map[string]any)["StopTimeout"] = 60.0
		}
	}))
	for _, want := range []string{
		"| as modelled above | 340 s (5 min 40 s) | 630 s (10 min 30 s) | 1.85× | yes | **not met**: under 2× |",
		"The requirement is met in 0 of the 4 scenarios.",
		"the speed-up would reach 2× only if they took 50 s less.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stop timeout 60 s: output lacks %q", want)
		}
	}
}

// Each service says where its N comes from, and a service whose count auto
// scaling owns is compared at every count it allows.
func TestTaskCountIsExplained(t *testing.T) {
	out := render1(t, scalingFixture)
	for _, want := range []string{
		"| scaling | LoneService | 1 | **ECS default** | 310 s (5 min 10 s) | 630 s (10 min 30 s) | 2.03× |",
		"| scaling | PinnedService | 4 | DesiredCount (auto scaling 2–6) |",
		"| scaling | ScaledService | 3 | MinCapacity (auto scaling 3–8) |",
		"N = 1 is ECS's default: the template sets no DesiredCount and no ScalableTarget scales the count, so CloudFormation creates the service with 1 task.",
		"N = 4 is the service's DesiredCount; ScalableTarget PinnedServiceTaskCountTarget also scales the count between 2 and 6 tasks.",
		"N = 3 is the MinCapacity of ScalableTarget ScaledServiceTaskCountTarget: Application Auto Scaling owns the count, so the service has no DesiredCount, and a deployment may find 3 to 8 tasks running.",
		"From 3 to 8 tasks the rollout takes 310 s (5 min 10 s) and the baseline 630 s (10 min 30 s); the speed-up is at least 2.03×, and the requirement is met at every count.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}

	// m = 50 %, M = 150 % between 2 and 3 tasks: 310 s at N = 2 (one batch),
	// 620 s at N = 3 (two batches of 2), against the baseline's 630 s: 1.02×.
	out = render1(t, modified(t, scalingFixture, func(tmpl map[string]any) {
		dc := resource(tmpl, "ScaledService")["DeploymentConfiguration"].(map[string]any)
		dc["MinimumHealthyPercent"], dc["MaximumPercent"] = 50.0, 150.0
		target := resource(tmpl, "ScaledServiceTaskCountTarget")
		target["MinCapacity"], target["MaxCapacity"] = 2.0, 3.0
	}))
	want := "From 2 to 3 tasks the rollout takes 310 s (5 min 10 s) to 620 s (10 min 20 s) and the baseline 630 s (10 min 30 s); " +
		"the speed-up is at least 1.02×, and the requirement is **not met** at N = 3."
	if !strings.Contains(out, want) {
		t.Errorf("output lacks %q", want)
	}
}

// render1 renders one template with the default constants.
func render1(t *testing.T, path string) string {
	t.Helper()
	out, err := render([]string{path}, rollout.DefaultConstants())
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// modified writes a copy of the template at path, changed by change, to a
// temporary file of the same name and returns its path.
func modified(t *testing.T, path string, change func(tmpl map[string]any)) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tmpl map[string]any
	if err := json.Unmarshal(raw, &tmpl); err != nil {
		t.Fatal(err)
	}
	change(tmpl)
	if raw, err = json.Marshal(tmpl); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), filepath.Base(path))
	if err := os.WriteFile(out, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// resource returns the Properties of a template's resource.
func resource(tmpl map[string]any, id string) map[string]any {
	return tmpl["Resources"].(map[string]any)[id].(map[string]any)["Properties"].(map[string]any)
}

func TestRunFails(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.template.json")
	if err := os.WriteFile(broken, []byte(`{"Resources": `), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.template.json")
	if err := os.WriteFile(empty, []byte(`{"Resources": {}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		args []string
		code int
		want string
	}{
		"no templates":    {nil, 2, "usage: rollout"},
		"unknown flag":    {[]string{"-nope", broken}, 2, "flag provided but not defined"},
		"invalid JSON":    {[]string{broken}, 1, "broken.template.json: unexpected end of JSON input"},
		"no service":      {[]string{empty}, 1, "empty.template.json: no AWS::ECS::Service"},
		"missing file":    {[]string{filepath.Join(dir, "missing.json")}, 1, "missing.json"},
		"bad drain value": {[]string{"-drain-window", "two minutes", empty}, 2, "invalid value"},
	} {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tc.args, &stdout, &stderr); code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tc.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("printed %q on failure", stdout.String())
			}
		})
	}
}

// firstDifference shows the first line that differs, with its number.
func firstDifference(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, wl, gl)
		}
	}
	return "(none)"
}
