package test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
	"github.com/passthrough-cdk/passthrough/examples/stacks"
	"github.com/passthrough-cdk/passthrough/internal/cdktest"
)

// The guarantees must not depend on the repository's cdk.json: a user who
// pastes the README's usage into a new app, whose cdk.json sets none of
// aws-cdk-lib's feature flags, gets the same. These tests build that app
// from the README itself, with no context at all, and run the examples'
// guarantee checks on it (forEachGuarantee), and on the example stacks in
// an app without context too.

var (
	freshOnce      sync.Once
	freshTemplates []example
)

// readmeOptIn is the line of the README's usage that turns on
// NewStrictCompliance, commented out there.
const readmeOptIn = "// awscdk.Aspects_Of(stack).Add(passthrough.NewStrictCompliance(nil), nil)"

// strictEnv makes the README's program, as the tests build it, run its
// opt-in line: one build synthesizes the usage with and without it.
const strictEnv = "PASSTHROUGH_README_STRICT"

// readmeUsage returns the Go program of the README's "Usage" section: its
// first code block.
func readmeUsage() (string, error) {
	raw, err := os.ReadFile(filepath.Join(cdktest.RepoRoot(), "README.md"))
	if err != nil {
		return "", err
	}
	section := string(raw)
	if i := strings.Index(section, "\n## Usage\n"); i >= 0 {
		section = section[i:]
	} else {
		return "", errors.New("README.md has no Usage section")
	}
	m := regexp.MustCompile("(?s)```go\n(.*?)```").FindStringSubmatch(section)
	if m == nil || !strings.Contains(m[1], "package main") {
		return "", errors.New("the README's Usage section has no Go program")
	}
	return m[1], nil
}

// readmeUsageRun builds and runs the README's usage in the background
// (background_test.go).
var readmeUsageRun = inBackground(synthesizeReadmeUsage)

// readmeUsageTemplates returns the README's usage templates.
func readmeUsageTemplates(t testing.TB) []example {
	t.Helper()
	templates, err := readmeUsageRun.wait()
	if err != nil {
		t.Fatal(err)
	}
	return templates
}

// synthesizeReadmeUsage builds the README's program in dir as a module of
// its own that requires this repository, runs it with no CDK context (no
// CDK_CONTEXT_JSON: no feature flag is set), and returns its templates.
func synthesizeReadmeUsage(dir string) ([]example, error) {
	root := cdktest.RepoRoot()
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return nil, err
	}
	goMod := strings.Replace(string(mod), "module github.com/passthrough-cdk/passthrough", "module readmeapp", 1)
	goMod = strings.Replace(goMod, "ignore ./node_modules\n", "", 1)
	goMod += "\nrequire github.com/passthrough-cdk/passthrough v0.0.0\n\nreplace github.com/passthrough-cdk/passthrough => " + root + "\n"
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		return nil, err
	}
	program, err := readmeUsage()
	if err != nil {
		return nil, err
	}
	if !strings.Contains(program, readmeOptIn) || !strings.Contains(program, "import (\n") {
		return nil, fmt.Errorf("the README's usage has no line %q to turn on", readmeOptIn)
	}
	program = strings.Replace(program, readmeOptIn,
		`if os.Getenv("`+strictEnv+`") != "" { `+strings.TrimPrefix(readmeOptIn, "// ")+` }`, 1)
	program = strings.Replace(program, "import (\n", "import (\n\t\"os\"\n", 1)
	for name, content := range map[string]string{"go.mod": goMod, "go.sum": string(sum), "main.go": program} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			return nil, err
		}
	}
	build := exec.Command("go", "build", "-o", "app", ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build the README's usage: %v\n%s", err, out)
	}
	// The two variants run side by side: each is a process of its own.
	variants := []struct{ prefix, env string }{{"README/", ""}, {"README+Strict/", strictEnv + "=1"}}
	results := make([][]example, len(variants))
	errs := make([]error, len(variants))
	var wg sync.WaitGroup
	for i, variant := range variants {
		wg.Go(func() {
			results[i], errs[i] = runReadmeUsage(dir, variant.prefix, variant.env)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return slices.Concat(results...), nil
}

// runReadmeUsage runs the built README app once, with env added, and reads
// the templates it wrote, named prefix + stack name.
func runReadmeUsage(dir, prefix, env string) ([]example, error) {
	out := filepath.Join(dir, "cdk.out"+strings.TrimSuffix(strings.TrimPrefix(prefix, "README"), "/"))
	run := exec.Command(filepath.Join(dir, "app"))
	run.Dir = dir
	run.Env = append(withoutCDKEnv(os.Environ()), "CDK_OUTDIR="+out)
	if env != "" {
		run.Env = append(run.Env, env)
	}
	if msg, err := run.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("run the README's usage (%s): %v\n%s", prefix, err, msg)
	}
	files, _ := filepath.Glob(filepath.Join(out, "*.template.json"))
	if len(files) == 0 {
		return nil, fmt.Errorf("the README's usage (%s) synthesized no template", prefix)
	}
	var templates []example
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var tpl map[string]any
		if err := json.Unmarshal(raw, &tpl); err != nil {
			return nil, err
		}
		name := prefix + strings.TrimSuffix(filepath.Base(f), ".template.json")
		templates = append(templates, example{name: name, template: tpl})
	}
	return templates, nil
}

// withoutCDKEnv drops the CDK_* variables a CDK CLI run would set, so that
// the app sees no context.
func withoutCDKEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "CDK_") {
			out = append(out, kv)
		}
	}
	return out
}

// readmeEC2Stack is the README's EC2 variant, in a stack of an app with no
// context, with NewStrictCompliance when strict.
func readmeEC2Stack(t testing.TB, strict bool) awscdk.Stack {
	t.Helper()
	stack := awscdk.NewStack(cdktest.NewApp(t, nil), jsii.String("PaymentsEC2"), nil)
	if strict {
		awscdk.Aspects_Of(stack).Add(passthrough.NewStrictCompliance(nil), nil)
	}
	image := awsecs.ContainerImage_FromRegistry(jsii.String("registry.example.com/payments-api:1.4.2"), nil)
	cluster := passthrough.NewCluster(stack, jsii.String("Cluster"), &passthrough.ClusterProps{
		EC2: &passthrough.EC2CapacityProps{},
	})
	lb := passthrough.NewLoadBalancer(stack, jsii.String("LB"), &passthrough.LoadBalancerProps{Vpc: cluster.Vpc})
	passthrough.NewEC2Service(stack, jsii.String("Api"), &passthrough.EC2ServiceProps{
		ServiceProps: passthrough.ServiceProps{Cluster: cluster, LoadBalancer: lb, Image: image},
	})
	return stack
}

// readmeTemplates synthesizes the README's usage, Fargate and EC2, without
// feature flags, once for the package.
func readmeTemplates(t *testing.T) []example {
	t.Helper()
	freshOnce.Do(func() {
		freshTemplates = slices.Clone(readmeUsageTemplates(t))
		stack := readmeEC2Stack(t, false)
		freshTemplates = append(freshTemplates, example{name: "README/" + *stack.StackName(), template: cdktest.TemplateOf(t, stack).JSON()})
		stack = readmeEC2Stack(t, true)
		freshTemplates = append(freshTemplates, example{name: "README+Strict/" + *stack.StackName(), template: cdktest.TemplateOf(t, stack).JSON()})
		// The example stacks too, in an app without the repository's
		// cdk.json context.
		app := cdktest.NewApp(t, nil)
		all := stacks.All(app)
		assembly := cdktest.Synth(t, app)
		for _, stack := range all {
			name := *stack.StackName()
			tpl, _ := assembly.GetStackByName(jsii.String(name)).Template().(map[string]any)
			freshTemplates = append(freshTemplates, example{name: "NoFlags/" + name, template: tpl})
		}
	})
	if len(freshTemplates) == 0 {
		t.Fatal("the README's usage synthesized nothing")
	}
	return freshTemplates
}

// forEachGuarantee runs check on every example and on the README's usage
// synthesized without feature flags.
func forEachGuarantee(t *testing.T, check func(t *testing.T, tpl *cdktest.Template)) {
	forEachExample(t, check)
	for _, ex := range readmeTemplates(t) {
		t.Run(ex.name, func(t *testing.T) {
			check(t, cdktest.TemplateFromJSON(t, ex.template))
		})
	}
}

// Every VPC the constructs create has its default security group emptied
// (Security Hub EC2.2), set in the construct rather than left to
// aws-cdk-lib's @aws-cdk/aws-ec2:restrictDefaultSecurityGroup flag.
func TestExamplesRestrictTheDefaultSecurityGroup(t *testing.T) {
	forEachGuarantee(t, func(t *testing.T, tpl *cdktest.Template) {
		restricted := map[string]bool{}
		for _, r := range tpl.Resources("Custom::VpcRestrictDefaultSG") {
			restricted[getAttOf(t, r["DefaultSecurityGroupId"])] = true
		}
		for id := range tpl.Resources("AWS::EC2::VPC") {
			if !restricted[id] {
				t.Errorf("VPC %s keeps its default security group's rules", id)
			}
		}
	})
}

// The README's usage and the examples, in apps without feature flags, pass
// cdk-nag's AwsSolutions pack as the examples do with them.
func TestWithoutFeatureFlagsCdkNagFindsNothing(t *testing.T) {
	for _, stack := range stacks.All(cdktest.NewApp(t, nil)) {
		t.Run(*stack.StackName(), func(t *testing.T) {
			for _, f := range nagFindings(t, stack) {
				t.Error(f)
			}
		})
	}
	for _, f := range nagFindings(t, readmeEC2Stack(t, false)) {
		t.Error(f)
	}
	stack := awscdk.NewStack(cdktest.NewApp(t, nil), jsii.String("Payments"), nil)
	cluster := passthrough.NewCluster(stack, jsii.String("Cluster"), nil)
	lb := passthrough.NewLoadBalancer(stack, jsii.String("LB"), &passthrough.LoadBalancerProps{Vpc: cluster.Vpc})
	passthrough.NewFargateService(stack, jsii.String("Api"), &passthrough.FargateServiceProps{
		ServiceProps: passthrough.ServiceProps{
			Cluster:      cluster,
			LoadBalancer: lb,
			Image:        awsecs.ContainerImage_FromRegistry(jsii.String("registry.example.com/payments-api:1.4.2"), nil),
		},
	})
	for _, f := range nagFindings(t, stack) {
		t.Error(f)
	}
}
