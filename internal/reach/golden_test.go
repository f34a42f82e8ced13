package reach

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// goldenTemplates are the committed templates of the example stacks.
func goldenTemplates(t *testing.T) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "test", "testdata", "*.template.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden templates in test/testdata")
	}
	out := map[string][]byte{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".template.json")] = data
	}
	return out
}

// Every example stack, as committed, has no problem, and every listener in
// it reaches an ECS service through an open path: the analysis works on the
// real synthesized output, not only on hand-written templates.
func TestGoldenTemplatesEveryListenerReachesItsServiceAndNothingElseIsOpen(t *testing.T) {
	golden := goldenTemplates(t)
	for _, stack := range slices.Sorted(maps.Keys(golden)) {
		t.Run(stack, func(t *testing.T) {
			r, err := AnalyzeJSON(golden[stack])
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range r.Problems() {
				t.Errorf("problem: %s", p)
			}
			if len(r.Listeners) == 0 {
				t.Fatal("no listener found")
			}
			for _, l := range r.Listeners {
				paths := r.PathsOf(l.ID)
				if len(paths) == 0 {
					t.Errorf("listener %s has no path", l.ID)
				}
				for _, p := range paths {
					if p.Service == nil || !p.Open() {
						t.Errorf("%s is not open: %v", p, p.Failures)
					}
					if len(p.Clients) == 0 || len(p.Egress) == 0 || len(p.Ingress) == 0 {
						t.Errorf("%s: clients %v, egress %v, ingress %v: want a rule for each hop", p, p.Clients, p.Egress, p.Ingress)
					}
				}
			}
			if len(r.Ingress) == 0 {
				t.Fatal("no ingress rule found")
			}
			for _, rule := range r.Ingress {
				if len(rule.Serves) == 0 {
					t.Errorf("%s serves no listener", rule)
				}
			}
			reached := map[string]bool{}
			for _, p := range r.Paths {
				if p.Service != nil && p.Open() {
					reached[p.Service.ID] = true
				}
				t.Logf("%s: open %v, targets accept %v", p, p.Open(), p.Needs)
			}
			for _, s := range r.Services {
				if !reached[s.ID] {
					t.Errorf("service %s is reached by no open path", s.ID)
				}
			}
		})
	}
}
