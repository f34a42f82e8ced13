package test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/passthrough-cdk/passthrough/internal/cdktest"
	"github.com/passthrough-cdk/passthrough/internal/upgrade"
)

// replacementsFile declares the replacements that the changes since the
// last release make on purpose; it is emptied at each release
// (docs/releasing.md).
var replacementsFile = filepath.Join("testdata", "replacements.json")

// declarations is replacementsFile.
type declarations struct {
	// Since is the revision whose golden templates are what a user of the
	// last release has deployed: the templates every example is updated
	// from. At a release it becomes the release's tag.
	Since string `json:"since"`
	// About says what the file is, for a reader.
	About        []string      `json:"about"`
	Replacements []declaration `json:"replacements"`
}

// declaration is one intended replacement, or a group of them: Stack and
// LogicalID are path.Match patterns, Type is exact.
type declaration struct {
	Stack     string `json:"stack"`
	Type      string `json:"type"`
	LogicalID string `json:"logicalId"`
	// Because says which change replaces it, for CHANGELOG.md.
	Because string `json:"because"`
}

func (d declaration) matches(stack string, c upgrade.Change) bool {
	s, _ := path.Match(d.Stack, stack)
	id, _ := path.Match(d.LogicalID, c.LogicalID)
	return s && id && d.Type == c.Type
}

func readDeclarations(t *testing.T) declarations {
	t.Helper()
	raw, err := os.ReadFile(replacementsFile)
	if err != nil {
		t.Fatal(err)
	}
	var d declarations
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s: %v", replacementsFile, err)
	}
	for i, r := range d.Replacements {
		if r.Stack == "" || r.Type == "" || r.LogicalID == "" || strings.TrimSpace(r.Because) == "" {
			t.Fatalf("%s: replacement %d needs stack, type, logicalId and because: %+v", replacementsFile, i, r)
		}
	}
	return d
}

// errNoHistory is returned when the tests do not run in a git checkout.
var errNoHistory = errors.New("not in a git checkout")

// goldenAt is the golden template of stack at revision rev, or nil if the
// stack had none then.
func goldenAt(rev, stack string) ([]byte, error) {
	root := cdktest.RepoRoot()
	git := func(args ...string) ([]byte, error) {
		cmd := exec.Command("git", append([]string{"-C", root}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, stderr.String())
		}
		return out, nil
	}
	if _, err := exec.LookPath("git"); err != nil {
		return nil, errNoHistory
	}
	if _, err := git("rev-parse", "--git-dir"); err != nil {
		return nil, errNoHistory
	}
	if _, err := git("cat-file", "-e", rev+"^{commit}"); err != nil {
		return nil, fmt.Errorf("revision %s (since, in %s) is not in this checkout's history; fetch it (a shallow CI checkout needs fetch-depth: 0): %v", rev, replacementsFile, err)
	}
	file := "test/testdata/" + stack + ".template.json"
	if _, err := git("cat-file", "-e", rev+":"+file); err != nil {
		return nil, nil // a stack added since
	}
	return git("show", rev+":"+file)
}

// Updating a stack deployed from the last release's templates to the
// templates synthesized now replaces no load balancer, listener, target
// group, ECS service, security group, endpoint service or named alarm that
// testdata/replacements.json does not declare, by the CloudFormation
// resource specification's update semantics; and no update is one that
// CloudFormation refuses or that fails half way: a replaced resource that
// keeps its custom name, a name taken over from another logical ID, a
// listener port taken over from another listener, a target group attached
// to two load balancers. One Node.js process classifies every example.
func TestUpdatesReplaceOnlyWhatIsDeclared(t *testing.T) {
	decl := readDeclarations(t)
	var pairs []upgrade.Pair
	for _, ex := range examples(t) {
		before, err := goldenAt(decl.Since, ex.name)
		if errors.Is(err, errNoHistory) {
			t.Skipf("needs the repository's git history: %v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		if before == nil {
			continue
		}
		var old, new map[string]any
		if err := json.Unmarshal(before, &old); err != nil {
			t.Fatalf("%s at %s: %v", ex.name, decl.Since, err)
		}
		if err := json.Unmarshal(ex.golden, &new); err != nil {
			t.Fatal(err)
		}
		pairs = append(pairs, upgrade.Pair{Name: ex.name, Old: old, New: new})
	}
	results, err := upgrade.Analyze(pairs)
	if err != nil {
		t.Fatal(err)
	}
	used := make([]bool, len(decl.Replacements))
	var undeclared, refused []string
	for _, r := range results {
		for _, c := range r.Replaced() {
			found := false
			for i, d := range decl.Replacements {
				if d.matches(r.Name, c) {
					used[i], found = true, true
				}
			}
			if !found {
				undeclared = append(undeclared, r.Name+": "+c.String())
			}
		}
		for _, x := range r.Refused {
			refused = append(refused, r.Name+": "+x.String())
		}
	}
	if len(refused) > 0 {
		t.Errorf("updating the examples from %s would be refused or fail half way:\n  %s\nChange the constructs so that the update goes through, or document the procedure and keep the examples clear of it.",
			decl.Since, strings.Join(refused, "\n  "))
	}
	if len(undeclared) > 0 {
		t.Errorf("updating the examples from %s replaces, without a declaration in %s:\n  %s\n"+
			"If the replacement is intended, add an entry (stack, type, logicalId, because; stack and logicalId may be patterns) and name it in CHANGELOG.md with what it does to a deployed stack.",
			decl.Since, replacementsFile, strings.Join(undeclared, "\n  "))
	}
	for i, d := range decl.Replacements {
		if !used[i] {
			t.Errorf("%s declares a replacement that no example makes any more: %+v; remove it", replacementsFile, d)
		}
	}
}
