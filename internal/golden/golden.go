// Package golden is the one way Passthrough's tests compare what they
// compute with files committed in the repository (the example stacks'
// templates, the logical-ID record, the traffic path diagrams, the rollout
// figures), and the one way to regenerate them all:
//
//	go test ./... -update
//
// then review `git diff` before committing. The -update flag is registered
// here, and go test passes it to every package's test binary, which fails on
// a flag it does not know: so every package with tests imports this one,
// directly, through internal/cdktest, or for the flag alone (import _), and
// TestEveryTestPackageAcceptsUpdate keeps it so.
package golden

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Command regenerates every golden file, run from the repository root.
const Command = "go test ./... -update"

var update = flag.Bool("update", false, "rewrite golden files with what the tests compute instead of comparing with them ("+Command+")")

// Updating reports whether the tests rewrite golden files.
func Updating() bool { return *update }

// File returns the golden file at path for a test that computed got: with
// -update it writes got there first, so that the test's own comparison
// passes and the file holds what the test computes.
func File(t testing.TB, path string, got []byte) []byte {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return got
	}
	want, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s is missing: run `%s` to create it", path, Command)
	}
	if err != nil {
		t.Fatal(err)
	}
	return want
}

// Check fails the test when got differs from the golden file at path,
// showing the difference; with -update it rewrites the file instead.
func Check(t testing.TB, path string, got []byte) {
	t.Helper()
	if want := File(t, path, got); !bytes.Equal(want, got) {
		t.Errorf("%s differs from what the test computes (-want +got):\n%s\nIf the change is intended, run `%s` and review the diff of %s before committing it.",
			path, Diff(string(want), string(got)), Command, path)
	}
}

// NoOthers fails the test for every file matching pattern that is not one
// of files: a golden file whose stack is gone. It checks nothing under
// -update, which writes files and never deletes one.
func NoOthers(t testing.TB, pattern string, files []string) {
	t.Helper()
	if *update {
		return
	}
	existing, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range existing {
		if !slices.Contains(files, f) {
			t.Errorf("%s belongs to no example stack any more; delete it", f)
		}
	}
}

// Diff shows the lines that differ between want and got, with a little
// context, as "-" and "+" lines. It is a readable summary, not a minimal
// diff: it pairs lines after the common prefix and suffix.
func Diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	prefix := 0
	for prefix < len(w) && prefix < len(g) && w[prefix] == g[prefix] {
		prefix++
	}
	suffix := 0
	for suffix < len(w)-prefix && suffix < len(g)-prefix && w[len(w)-1-suffix] == g[len(g)-1-suffix] {
		suffix++
	}
	var b strings.Builder
	from := max(prefix-3, 0)
	fmt.Fprintf(&b, "@@ line %d @@\n", from+1)
	for _, l := range w[from:prefix] {
		b.WriteString("  " + l + "\n")
	}
	const limit = 40
	removed, added := w[prefix:len(w)-suffix], g[prefix:len(g)-suffix]
	for i, l := range removed {
		if i == limit {
			fmt.Fprintf(&b, "- ... %d more\n", len(removed)-limit)
			break
		}
		b.WriteString("- " + l + "\n")
	}
	for i, l := range added {
		if i == limit {
			fmt.Fprintf(&b, "+ ... %d more\n", len(added)-limit)
			break
		}
		b.WriteString("+ " + l + "\n")
	}
	return b.String()
}
