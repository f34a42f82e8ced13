package main

import (
	"bytes"
	"strings"
	"testing"

	_ "github.com/passthrough-cdk/passthrough/internal/golden" // accepts the -update of `go test ./... -update`
)

// fixture is package reach's hand-written Fargate stack.
const fixture = "../../internal/reach/testdata/fargate.json"

// Each template's page is printed under its stack's name, one after the
// other.
func TestPrintsThePageOfEachTemplate(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{fixture, fixture}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, &stderr)
	}
	if got := strings.Count(stdout.String(), "# Traffic paths of fargate\n"); got != 2 {
		t.Errorf("%d pages of stack fargate, want 2:\n%s", got, &stdout)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{nil, {"-write", "docs/diagrams", fixture}, {"-nope"}} {
		if code := run(args, new(bytes.Buffer), new(bytes.Buffer)); code != 2 {
			t.Errorf("run(%q) exited %d, want 2", args, code)
		}
	}
	var stderr bytes.Buffer
	if code := run([]string{"missing.template.json"}, new(bytes.Buffer), &stderr); code != 1 || !strings.Contains(stderr.String(), "missing.template.json") {
		t.Errorf("a missing template: exit %d, %q", code, &stderr)
	}
}
