package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/passthrough-cdk/passthrough/internal/golden" // accepts the -update of `go test ./... -update`
)

const (
	goldenDir = "../../test/testdata"
	// fixture is internal/rollout's hand-written template of Passthrough's
	// defaults (internal/rollout/testdata/README.md). Figures checked here
	// come from it, not from the golden templates, which change.
	fixture = "../../internal/rollout/testdata/passthrough.template.json"
)

func goldenTemplates(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(goldenDir, "*.template.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden templates in %s (err %v)", goldenDir, err)
	}
	return files
}

// The output does not depend on the order of the arguments.
func TestOutputIsDeterministic(t *testing.T) {
	files := goldenTemplates(t)
	reversed := make([]string, len(files))
	for i, f := range files {
		reversed[len(files)-1-i] = f
	}
	var a, b, stderr bytes.Buffer
	if code := run(files, &a, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, &stderr)
	}
	if code := run(reversed, &b, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, &stderr)
	}
	if a.Len() == 0 || !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("the output depends on the order of the templates")
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
		"no service":      {[]string{empty}, 1, "rollout: empty: no AWS::ECS::Service"},
		"stack twice":     {[]string{fixture, fixture}, 1, "passthrough.template.json: a second template of stack passthrough"},
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
