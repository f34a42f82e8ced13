package templates

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// These tests read the template files only, and take no time: they keep
// the templates in step with the repository (tools, versions, feature
// flags, workflow) and with each other.

// templateDir is the directory that `cdk init` copies for a template.
func templateDir(name string) string {
	return filepath.Join(name, "go")
}

// sharedFiles are the same in every template, so that a fix reaches all of
// them: edit one, then copy it to the others (docs/templates.md).
var sharedFiles = []string{
	"app_test.go", "service.go", "cdk.json", "Makefile", "package.json", "package-lock.json",
	".gitignore", ".github/workflows/cdk.yml",
}

// Every template directory is in the test's table, and the other way round.
func TestEveryTemplateIsTested(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("*", "go"))
	if err != nil {
		t.Fatal(err)
	}
	var found, listed []string
	for _, d := range dirs {
		found = append(found, filepath.Dir(d))
	}
	for _, a := range architectures {
		listed = append(listed, a.template)
	}
	sort.Strings(found)
	sort.Strings(listed)
	if !slices.Equal(found, listed) {
		t.Errorf("template directories %v, but the test lists %v", found, listed)
	}
}

func TestSharedFilesAreTheSameInEveryTemplate(t *testing.T) {
	first := architectures[0].template
	for _, f := range sharedFiles {
		want, err := os.ReadFile(filepath.Join(templateDir(first), f))
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range architectures[1:] {
			got, err := os.ReadFile(filepath.Join(templateDir(a.template), f))
			if err != nil {
				t.Error(err)
				continue
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from %s: copy the one you changed to the other templates",
					filepath.Join(templateDir(a.template), f), filepath.Join(templateDir(first), f))
			}
		}
	}
}

func readJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

// The apps install the CDK CLI and Node.js that the repository pins, and
// run with its feature flags. The repository also pins tools that only its
// own tests use (cdk-nag v3, @aws-cdk/cloudformation-diff, the Control
// Tower rules): an app does not install them.
func TestTemplatesPinTheRepositorysToolsAndFlags(t *testing.T) {
	appTools := []string{"aws-cdk", "node"}
	for _, a := range architectures {
		dir := templateDir(a.template)
		pkg, rootPkg := readJSON(t, filepath.Join(dir, "package.json")), readJSON(t, filepath.Join("..", "package.json"))
		for _, key := range []string{"engines", "allowScripts"} {
			if !reflect.DeepEqual(pkg[key], rootPkg[key]) {
				t.Errorf("%s/package.json %s: %v, the repository's: %v", dir, key, pkg[key], rootPkg[key])
			}
		}
		deps, _ := pkg["devDependencies"].(map[string]any)
		rootDeps, _ := rootPkg["devDependencies"].(map[string]any)
		want := map[string]any{}
		for _, name := range appTools {
			want[name] = rootDeps[name]
		}
		if !reflect.DeepEqual(deps, want) {
			t.Errorf("%s/package.json devDependencies: %v, want the repository's %v", dir, deps, want)
		}
		lock, rootLock := readJSON(t, filepath.Join(dir, "package-lock.json")), readJSON(t, filepath.Join("..", "package-lock.json"))
		if lock["lockfileVersion"] != rootLock["lockfileVersion"] {
			t.Errorf("%s/package-lock.json lockfileVersion %v, the repository's %v", dir, lock["lockfileVersion"], rootLock["lockfileVersion"])
		}
		if root := lock["packages"].(map[string]any)[""].(map[string]any); !reflect.DeepEqual(root["devDependencies"], want) {
			t.Errorf("%s/package-lock.json devDependencies: %v, want %v", dir, root["devDependencies"], want)
		}
		rootPackages := rootLock["packages"].(map[string]any)
		for path, entry := range lock["packages"].(map[string]any) {
			if path != "" && !reflect.DeepEqual(entry, rootPackages[path]) {
				t.Errorf("%s/package-lock.json pins %s other than the repository's package-lock.json: copy its entry", dir, path)
			}
		}
		cdkJSON, rootCDK := readJSON(t, filepath.Join(dir, "cdk.json")), readJSON(t, filepath.Join("..", "cdk.json"))
		if !reflect.DeepEqual(cdkJSON["context"], rootCDK["context"]) {
			t.Errorf("%s/cdk.json: its context differs from the repository's cdk.json: the comparison with the examples assumes the same feature flags", dir)
		}
	}
}

// requirements reads the go directive and the required versions of a
// go.mod.
func requirements(t *testing.T, path string) (goVersion string, versions map[string]string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	versions = map[string]string{}
	inRequire := false
	for _, line := range strings.Split(string(raw), "\n") {
		fields := strings.Fields(strings.TrimSpace(line))
		switch {
		case len(fields) == 0:
		case fields[0] == "go" && len(fields) == 2:
			goVersion = fields[1]
		case fields[0] == "require" && len(fields) == 2 && fields[1] == "(":
			inRequire = true
		case fields[0] == ")":
			inRequire = false
		case fields[0] == "require" && len(fields) >= 3:
			versions[fields[1]] = fields[2]
		case inRequire && len(fields) >= 2:
			versions[fields[0]] = fields[1]
		}
	}
	return goVersion, versions
}

// latestRelease is the newest version heading in CHANGELOG.md.
func latestRelease(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "CHANGELOG.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^## \[(\d+\.\d+\.\d+)\]`).FindSubmatch(raw)
	if m == nil {
		t.Fatal("CHANGELOG.md has no version heading")
	}
	return "v" + string(m[1])
}

// Each app requires the library at its newest release (which a release
// raises: docs/releasing.md), and everything else at the repository's
// versions, so that the app builds against what the library was tested
// with.
func TestTemplateModulesRequireTheRepositorysVersions(t *testing.T) {
	rootGo, root := requirements(t, filepath.Join("..", "go.mod"))
	release := latestRelease(t)
	for _, a := range architectures {
		path := filepath.Join(templateDir(a.template), "go.mod")
		goVersion, versions := requirements(t, path)
		if goVersion != rootGo {
			t.Errorf("%s: go %s, the repository's go.mod: go %s", path, goVersion, rootGo)
		}
		if got := versions[module]; got != release {
			t.Errorf("%s: requires %s %s; the newest release in CHANGELOG.md is %s", path, module, got, release)
		}
		for mod, v := range versions {
			if mod != module && root[mod] != v {
				t.Errorf("%s: requires %s %s, the repository's go.mod %s", path, mod, v, root[mod])
			}
		}
	}
}

// Each app's workflow runs the same actions, at the same commits, as the
// repository's: an update of one reaches the other.
func TestTemplateWorkflowsPinTheRepositorysActions(t *testing.T) {
	uses := regexp.MustCompile(`uses: (\S+)`)
	pins := func(path string) []string {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range uses.FindAllStringSubmatch(string(raw), -1) {
			out = append(out, m[1])
		}
		sort.Strings(out)
		return slices.Compact(out)
	}
	want := pins(filepath.Join("..", ".github", "workflows", "cdk.yml"))
	for _, a := range architectures {
		path := filepath.Join(templateDir(a.template), ".github", "workflows", "cdk.yml")
		if got := pins(path); !slices.Equal(got, want) {
			t.Errorf("%s uses %v; the repository's workflow %v", path, got, want)
		}
	}
}

// `cdk init` copies a custom template as it is: it expands no placeholder
// such as %name%, so none may be left in a template.
func TestTemplatesHoldNoPlaceholders(t *testing.T) {
	placeholder := regexp.MustCompile(`%(name|stackname|PascalNameSpace|PascalStackProps|cdk-version|cdk-cli-version|constructs-version|cdk-home|python-executable|pm-cmd)[.%]`)
	for _, a := range architectures {
		err := filepath.WalkDir(templateDir(a.template), func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if strings.Contains(d.Name(), "%") || strings.Contains(d.Name(), ".template.") && !strings.HasSuffix(d.Name(), ".template.json") || strings.Contains(d.Name(), ".hook.") {
				t.Errorf("%s: a file name that the built-in templates treat specially", path)
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if m := placeholder.Find(raw); m != nil {
				t.Errorf("%s holds %s, which cdk init does not expand in a custom template", path, m)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// An example stack that no template makes fails the template test unless
// withoutTemplate gives the reason, and withoutTemplate names only example
// stacks that no template makes (the list of examples is the example app's
// stacks, which the slow test synthesizes).
func TestExampleCoverageRequiresADecisionForEveryExample(t *testing.T) {
	var all []string
	for _, a := range architectures {
		for _, v := range a.variants {
			all = append(all, v.stacks...)
		}
	}
	for name := range withoutTemplate {
		all = append(all, name)
	}
	if p := exampleCoverage(slices.Clone(all), withoutTemplate); len(p) != 0 {
		t.Errorf("every example made or listed: %q, want no problem", p)
	}
	for _, tc := range []struct {
		name     string
		examples []string
		without  map[string]string
		want     string
	}{
		{"a new example", append(slices.Clone(all), "PassthroughNew"), withoutTemplate,
			"the example stack PassthroughNew is made by no template: add a template (docs/templates.md), or list it in withoutTemplate with the reason"},
		{"a listed stack that is gone", slices.Clone(all), map[string]string{"PassthroughGone": "x"},
			"withoutTemplate lists PassthroughGone, which is no example stack"},
		{"a listed stack a template makes", slices.Clone(all), map[string]string{"PassthroughPublicServicesEC2": "x"},
			"withoutTemplate lists PassthroughPublicServicesEC2, which the template public-services is made from"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := exampleCoverage(tc.examples, tc.without)
			if !slices.ContainsFunc(p, func(s string) bool { return strings.HasPrefix(s, tc.want) }) {
				t.Errorf("problems %q, want one starting %q", p, tc.want)
			}
		})
	}
}
