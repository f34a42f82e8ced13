package test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/passthrough-cdk/passthrough/internal/cdktest"
)

// AWS Control Tower's proactive controls are CloudFormation Guard rules run
// by a CloudFormation hook: a stack that breaks one is not deployed. The
// same rules ship with @cdklabs/cdk-validator-cfnguard, pinned in
// package.json with the cfn-guard binary that runs them, so the tests run
// them on the templates without an AWS account.

// cfnGuardPackage is where `make tools` (npm ci) installs the rules and
// the binary.
const cfnGuardPackage = "node_modules/@cdklabs/cdk-validator-cfnguard"

// inherentControls are the Control Tower rules that a passthrough design
// or aws-cdk-lib breaks on purpose; the README's compliance table says why
// for each, and what compensates.
var inherentControls = map[string]string{
	"ct-ecs-pr-4":                  "EC2 services use bridge networking, for dynamic host ports",
	"ct-elasticloadbalancing-pr-5": "the examples turn deletion protection off so that they can be destroyed",
	"ct-elasticloadbalancing-pr-6": "an NLB writes access logs for TLS listeners only; a passthrough NLB has none",
	"ct-ec2-pr-3":                  "internet-facing listener ports other than 80 and 443, such as 8443 for mutual TLS",
	"ct-lambda-pr-3":               "aws-cdk-lib's own custom resource functions run outside a VPC",
}

// cfnGuard returns the cfn-guard binary of the pinned package for this
// machine and the directory of the Control Tower rules.
func cfnGuard(t testing.TB) (binary, rules string) {
	t.Helper()
	pkg := filepath.Join(cdktest.RepoRoot(), cfnGuardPackage)
	osDir := map[string]string{"linux": "ubuntu", "darwin": "macos"}[runtime.GOOS]
	archDir := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
	binary = filepath.Join(pkg, "bin", osDir, archDir, "cfn-guard")
	rules = filepath.Join(pkg, "rules", "control-tower", "cfn-guard")
	for _, p := range []string{binary, rules} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%v: run `make tools` (npm ci), which installs @cdklabs/cdk-validator-cfnguard from package.json", err)
		}
	}
	return binary, rules
}

// primaryRule matches the rule a Control Tower guard file reports under:
// the one rule that applies to a template ("when is_cfn_template"), as
// opposed to the parameterized rules it calls.
var primaryRule = regexp.MustCompile(`(?m)^rule ([A-Za-z0-9_]+) when `)

// controlIDs maps each Control Tower rule name to its control's file name
// (kms_create_grant_aws_service_check -> ct-kms-pr-3), the identifier the
// README and AWS's documentation use.
func controlIDs(t testing.TB, rules string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(rules, "*", "*.guard"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Control Tower rules in %s: %v", rules, err)
	}
	ids := map[string]string{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		id := strings.TrimSuffix(filepath.Base(f), ".guard")
		for _, m := range primaryRule.FindAllStringSubmatch(string(raw), -1) {
			if other, dup := ids[m[1]]; dup && other != id {
				t.Fatalf("rule %s is in both %s and %s", m[1], other, id)
			}
			ids[m[1]] = id
		}
	}
	return ids
}

// controlTowerFailures runs every Control Tower rule on every template and
// returns for each template name the controls it fails, sorted. cfn-guard
// is single-threaded and spends one to three seconds on each of these
// templates, so the templates are split across one invocation per CPU.
func controlTowerFailures(t testing.TB, templates []example) map[string][]string {
	t.Helper()
	binary, rules := cfnGuard(t)
	ids := controlIDs(t, rules)
	root := t.TempDir()
	files := map[string]string{}
	dirs := make([]string, min(runtime.NumCPU(), len(templates)))
	for i := range dirs {
		dirs[i] = filepath.Join(root, strconv.Itoa(i))
		if err := os.Mkdir(dirs[i], 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for i, ex := range templates {
		raw, err := json.Marshal(ex.template)
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dirs[i%len(dirs)], strings.ReplaceAll(ex.name, "/", "_")+".template.json")
		if _, dup := files[file]; dup {
			t.Fatalf("two templates named %s", ex.name)
		}
		files[file] = ex.name
		if err := os.WriteFile(file, raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	selected := rulesFor(t, rules, templates)
	outputs := make([][]byte, len(dirs))
	errs := make([]error, len(dirs))
	var wg sync.WaitGroup
	for i, dir := range dirs {
		wg.Go(func() { outputs[i], errs[i] = runCfnGuard(binary, selected, dir) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	failures := map[string][]string{}
	for _, out := range outputs {
		controlTowerParse(t, out, files, ids, failures)
	}
	for _, name := range files {
		t.Errorf("cfn-guard did not report on %s", name)
	}
	return failures
}

// resourceType matches a resource type named in a Guard rule.
var resourceType = regexp.MustCompile(`AWS::[A-Za-z0-9]+::[A-Za-z0-9]+`)

// rulesFor returns the rule files, of those in rules, that query a resource
// type at least one of templates holds. A Control Tower rule selects the
// resources it checks by type (`Resources.*[ Type == 'AWS::...' ]`) and
// reports SKIP on a template without them, so the others cannot fail here;
// cfn-guard's time grows with the number of rule files times the size of
// the template, and most of the 237 rules are for services these templates
// do not use. A rule whose code names no type is always kept.
func rulesFor(t testing.TB, rules string, templates []example) []string {
	t.Helper()
	present := map[string]bool{}
	for _, ex := range templates {
		resources, _ := ex.template["Resources"].(map[string]any)
		for _, r := range resources {
			if typ, ok := r.(map[string]any)["Type"].(string); ok {
				present[typ] = true
			}
		}
	}
	files, err := filepath.Glob(filepath.Join(rules, "*", "*.guard"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Control Tower rules in %s: %v", rules, err)
	}
	var selected []string
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var code strings.Builder
		for line := range strings.Lines(string(raw)) {
			if !strings.HasPrefix(strings.TrimSpace(line), "#") {
				code.WriteString(line)
			}
		}
		types := resourceType.FindAllString(code.String(), -1)
		if len(types) == 0 || slices.ContainsFunc(types, func(typ string) bool { return present[typ] }) {
			selected = append(selected, f)
		}
	}
	return selected
}

// runCfnGuard runs the rule files on the templates in dir and returns its
// JSON report.
func runCfnGuard(binary string, rules []string, dir string) ([]byte, error) {
	args := []string{"validate"}
	for _, r := range rules {
		args = append(args, "--rules", r)
	}
	args = append(args, "--data", dir,
		"--type", "CFNTemplate", "--output-format", "json", "--show-summary", "none", "--structured")
	cmd := exec.Command(binary, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	// cfn-guard exits 19 when a rule fails, 0 when none does; anything
	// else is an error of its own.
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 19) {
		return nil, fmt.Errorf("cfn-guard: %v\n%s", err, stderr.String())
	}
	return stdout.Bytes(), nil
}

// controlTowerParse adds the controls each template of one cfn-guard report
// fails to failures, and removes the reported templates from files.
func controlTowerParse(t testing.TB, stdout []byte, files, ids map[string]string, failures map[string][]string) {
	t.Helper()
	var results []struct {
		Name         string                       `json:"name"`
		NotCompliant []map[string]json.RawMessage `json:"not_compliant"`
	}
	if err := json.Unmarshal(stdout, &results); err != nil {
		t.Fatalf("cfn-guard output: %v\n%.2000s", err, stdout)
	}
	for _, r := range results {
		name, ok := files[r.Name]
		if !ok {
			t.Fatalf("cfn-guard reported on %s, which is not one of the templates", r.Name)
		}
		delete(files, r.Name)
		for _, entry := range r.NotCompliant {
			for _, raw := range entry {
				var rule struct {
					Name string `json:"name"`
				}
				if err := json.Unmarshal(raw, &rule); err != nil || rule.Name == "" {
					t.Fatalf("cfn-guard: unexpected result for %s: %s", name, raw)
				}
				id, known := ids[rule.Name]
				if !known {
					id = rule.Name
				}
				if !slices.Contains(failures[name], id) {
					failures[name] = append(failures[name], id)
				}
			}
		}
		slices.Sort(failures[name])
	}
}

// nonCompliantFixture breaks one control that no template here should
// break (CT.CLOUDWATCH.PR.2, an encrypted log group kept for a day), so
// that a run in which the rules did not apply cannot pass for one that
// found nothing.
var nonCompliantFixture = example{name: "Fixture", template: map[string]any{
	"Resources": map[string]any{
		"Logs": map[string]any{"Type": "AWS::Logs::LogGroup", "Properties": map[string]any{
			"RetentionInDays": 1,
			"KmsKeyId":        "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		}},
	},
}}

var (
	controlTowerOnce    sync.Once
	controlTowerResults map[string][]string
)

// controlTowerRun runs the rules once for the package on the fixture, every
// example, and the README's usage and EC2 variant with and without
// NewStrictCompliance, and returns the controls each fails.
func controlTowerRun(t *testing.T) map[string][]string {
	t.Helper()
	controlTowerOnce.Do(func() {
		templates := append([]example{nonCompliantFixture}, examples(t)...)
		for _, ex := range readmeTemplates(t) {
			if strings.HasPrefix(ex.name, "README") {
				templates = append(templates, ex)
			}
		}
		controlTowerResults = controlTowerFailures(t, templates)
	})
	if got := controlTowerResults[nonCompliantFixture.name]; !slices.Equal(got, []string{"ct-cloudwatch-pr-2"}) {
		t.Fatalf("the non-compliant fixture fails %v, want [ct-cloudwatch-pr-2]: the rules did not run as expected", got)
	}
	return controlTowerResults
}

// Every example passes AWS Control Tower's proactive controls, except the
// five the design or aws-cdk-lib breaks on purpose (inherentControls).
func TestExamplesPassControlTowerProactiveControls(t *testing.T) {
	failures := controlTowerRun(t)
	for _, ex := range examples(t) {
		t.Logf("%s fails %v", ex.name, failures[ex.name])
		for _, id := range failures[ex.name] {
			if _, ok := inherentControls[id]; !ok {
				t.Errorf("%s fails Control Tower control %s", ex.name, id)
			}
		}
	}
}

// readmeFailsWithoutOptIn is what the README's usage (Payments) and its EC2
// variant fail without NewStrictCompliance, as the README's compliance
// table lists it.
var readmeFailsWithoutOptIn = map[string][]string{
	"README/Payments": {
		"ct-cloudwatch-pr-1", "ct-cloudwatch-pr-2", "ct-cloudwatch-pr-3", "ct-ecs-pr-3",
		"ct-elasticloadbalancing-pr-5", "ct-elasticloadbalancing-pr-6", "ct-lambda-pr-3",
	},
	"README/PaymentsEC2": {
		"ct-autoscaling-pr-6", "ct-cloudwatch-pr-1", "ct-cloudwatch-pr-2", "ct-cloudwatch-pr-3", "ct-ecs-pr-3",
		"ct-ecs-pr-4", "ct-elasticloadbalancing-pr-5", "ct-elasticloadbalancing-pr-6", "ct-lambda-pr-3",
	},
}

// The README's usage, in an app without feature flags, fails only the
// inherent controls with NewStrictCompliance, and without it exactly what
// the README lists; the README's compliance table names every one.
func TestReadmeUsagePassesControlTowerWithTheOptIn(t *testing.T) {
	failures := controlTowerRun(t)
	readme, err := os.ReadFile(filepath.Join(cdktest.RepoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range readmeFailsWithoutOptIn {
		got := failures[name]
		if !slices.Equal(got, want) {
			t.Errorf("%s fails %v, the README lists %v", name, got, want)
		}
		for _, id := range got {
			if !bytes.Contains(readme, []byte("`"+id+"`")) {
				t.Errorf("the README does not name %s, which %s fails", id, name)
			}
		}
		strict := strings.Replace(name, "README/", "README+Strict/", 1)
		if !slices.ContainsFunc(readmeTemplates(t), func(ex example) bool { return ex.name == strict }) {
			t.Fatalf("%s was not synthesized", strict)
		}
		t.Logf("%s fails %v; with NewStrictCompliance %v", name, got, failures[strict])
		for _, id := range failures[strict] {
			if _, ok := inherentControls[id]; !ok {
				t.Errorf("%s fails Control Tower control %s", strict, id)
			}
		}
	}
}
