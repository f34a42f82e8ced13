package test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden templates in testdata/")

func goldenPath(stack string) string {
	return filepath.Join("testdata", stack+".template.json")
}

// TestSnapshots compares each example's template with its golden file.
func TestSnapshots(t *testing.T) {
	for _, ex := range examples(t) {
		t.Run(ex.name, func(t *testing.T) {
			path := goldenPath(ex.name)
			if *update {
				if err := os.WriteFile(path, ex.golden, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run `go test ./test/... -update` to create it)", err)
			}
			if !bytes.Equal(ex.golden, want) {
				t.Errorf("template of %s differs from %s (-want +got):\n%s\nIf the change is intended, run `go test ./test/... -update` and review the diff of testdata/ before committing it.",
					ex.name, path, lineDiff(string(want), string(ex.golden)))
			}
		})
	}
	if *update {
		return
	}
	// Every golden file belongs to an example that still exists.
	files, _ := filepath.Glob(filepath.Join("testdata", "*.template.json"))
	known := map[string]bool{}
	for _, ex := range examples(t) {
		known[goldenPath(ex.name)] = true
	}
	for _, f := range files {
		if !known[f] {
			t.Errorf("%s has no example stack any more; delete it", f)
		}
	}
}

// Synthesis is deterministic: a second synthesis gives the same bytes.
func TestSynthesisIsIdempotent(t *testing.T) {
	first := examples(t)
	second := synthesizeExamples(t)
	for i, ex := range first {
		if !bytes.Equal(ex.golden, second[i].golden) {
			t.Errorf("%s: second synthesis differs (-first +second):\n%s", ex.name, lineDiff(string(ex.golden), string(second[i].golden)))
		}
	}
}

// lineDiff shows the lines that differ between want and got, with a little
// context, as "-" and "+" lines. It is a readable summary, not a minimal
// diff: it pairs lines after the common prefix and suffix.
func lineDiff(want, got string) string {
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
