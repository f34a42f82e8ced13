package golden

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// recorder is a testing.TB that records failures instead of reporting
// them, so that a test can check what the helpers report. Fatal ends the
// calling goroutine, as testing.T's does; run the helper with record.
type recorder struct {
	testing.TB
	failures []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Fatal(args ...any) {
	r.failures = append(r.failures, fmt.Sprint(args...))
	runtime.Goexit()
}

// record runs f on its own goroutine and returns what it reported.
func record(t *testing.T, f func(tb testing.TB)) []string {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r.failures
}

// setUpdate sets -update for the rest of the test.
func setUpdate(t *testing.T, on bool) {
	before := *update
	if err := flag.Set("update", fmt.Sprint(on)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { *update = before })
}

// A golden file that is out of date, missing, or left over from a stack
// that is gone fails the test, naming the command that regenerates it and
// showing the difference; -update rewrites it, after which it passes.
func TestCheckCatchesOutdatedMissingAndStaleFiles(t *testing.T) {
	setUpdate(t, false)
	dir := t.TempDir()
	path := filepath.Join(dir, "Stack.md")
	if err := os.WriteFile(path, []byte("# Stack\nfrom NLB sg\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := record(t, func(tb testing.TB) { Check(tb, path, []byte("# Stack\nfrom NLB sg\n")) }); len(got) != 0 {
		t.Errorf("an equal file failed: %q", got)
	}

	got := record(t, func(tb testing.TB) { Check(tb, path, []byte("# Stack\nfrom 0.0.0.0/0\n")) })
	if len(got) != 1 {
		t.Fatalf("%d failures for an outdated file, want 1: %q", len(got), got)
	}
	for _, want := range []string{path + " differs", "- from NLB sg\n+ from 0.0.0.0/0\n", "run `go test ./... -update`"} {
		if !strings.Contains(got[0], want) {
			t.Errorf("failure %q lacks %q", got[0], want)
		}
	}

	missing := filepath.Join(dir, "Missing.md")
	got = record(t, func(tb testing.TB) { Check(tb, missing, []byte("x")) })
	if len(got) != 1 || !strings.Contains(got[0], missing+" is missing: run `go test ./... -update`") {
		t.Errorf("missing file: %q", got)
	}

	got = record(t, func(tb testing.TB) { NoOthers(tb, filepath.Join(dir, "*.md"), []string{missing}) })
	if len(got) != 1 || got[0] != path+" belongs to no example stack any more; delete it" {
		t.Errorf("stale file: %q", got)
	}

	setUpdate(t, true)
	for _, f := range []string{path, missing} {
		if got := record(t, func(tb testing.TB) { Check(tb, f, []byte("new\n")) }); len(got) != 0 {
			t.Errorf("-update failed: %q", got)
		}
	}
	if got := record(t, func(tb testing.TB) { NoOthers(tb, filepath.Join(dir, "*.md"), nil) }); len(got) != 0 {
		t.Errorf("-update reported stale files: %q", got)
	}
	setUpdate(t, false)
	for _, f := range []string{path, missing} {
		if got := record(t, func(tb testing.TB) { Check(tb, f, []byte("new\n")) }); len(got) != 0 {
			t.Errorf("after -update: %q", got)
		}
	}
}

func TestDiffShowsTheChangedLinesWithContext(t *testing.T) {
	want := "a\nb\nc\nd\ne\nf\n"
	got := "a\nb\nc\nd\nE\nf\n"
	if d := Diff(want, got); d != "@@ line 2 @@\n  b\n  c\n  d\n- e\n+ E\n" {
		t.Errorf("Diff = %q", d)
	}
}

// go test ./... -update passes -update to every package's test binary, and
// one that does not define it fails: every package with tests must import
// this package, directly or through internal/cdktest.
func TestEveryTestPackageAcceptsUpdate(t *testing.T) {
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = filepath.Join("..", "..")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const self = "github.com/passthrough-cdk/passthrough/internal/golden"
	const cdktest = "github.com/passthrough-cdk/passthrough/internal/cdktest"
	type pkg struct {
		ImportPath                         string
		Imports, TestImports, XTestImports []string
		TestGoFiles, XTestGoFiles          []string
	}
	var pkgs []pkg
	for dec := json.NewDecoder(bytes.NewReader(out)); dec.More(); {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	viaCDKTest := false
	for _, p := range pkgs {
		if p.ImportPath == cdktest {
			viaCDKTest = slices.Contains(p.Imports, self)
		}
	}
	checked := 0
	for _, p := range pkgs {
		if p.ImportPath == self || len(p.TestGoFiles)+len(p.XTestGoFiles) == 0 {
			continue
		}
		checked++
		imports := append(p.TestImports, p.XTestImports...)
		if !slices.Contains(imports, self) && !(viaCDKTest && slices.Contains(imports, cdktest)) {
			t.Errorf("the tests of %s do not import %s, so `go test ./... -update` fails there: add `import _ %q` to one of its test files", p.ImportPath, self, self)
		}
	}
	if checked < 2 {
		t.Errorf("go list found %d packages with tests", checked)
	}
}
