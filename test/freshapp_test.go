package test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
	"github.com/passthrough-cdk/passthrough/examples/stacks"
	"github.com/passthrough-cdk/passthrough/internal/cdktest"
	"github.com/passthrough-cdk/passthrough/internal/golden"
)

// The guarantees must not depend on the repository's cdk.json: a user who
// pastes the README's usage into a new app, whose cdk.json sets none of
// aws-cdk-lib's feature flags, gets the same. These tests synthesize that
// app from the README's own code (readmeusage_test.go), with no context at
// all, and run the examples'
// guarantee checks on it (forEachGuarantee), and on the example stacks in
// an app without context too.

var (
	freshOnce      sync.Once
	freshTemplates []example
)

// readmeOptIn is the line of the README's usage that turns on
// NewStrictCompliance, commented out there.
const readmeOptIn = "// awscdk.Aspects_Of(stack).Add(passthrough.NewStrictCompliance(nil), nil)"

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

// readmeUsageFile is the README's usage, compiled into this package so that
// its check costs no second link of aws-cdk-go and no second jsii runtime.
const readmeUsageFile = "readmeusage_test.go"

// readmeUsageSource turns the README's program into readmeUsageFile: the
// same imports and statements, in a function of this package that returns
// the app instead of a main. Three lines change, each checked to exist:
// main's two defers go (jsii.Close would end this process's runtime;
// ExitOnValidationError would exit it), and the commented-out opt-in runs
// when strict is true.
func readmeUsageSource(program string) (string, error) {
	edits := []struct{ old, new string }{
		{"package main\n", "// Code generated from README.md's Usage section by `go test ./test -update`. DO NOT EDIT.\n\npackage test\n"},
		{"func main() {\n", "// readmeUsageApp is the README's main, returning its app.\nfunc readmeUsageApp(strict bool) awscdk.App {\n"},
		{"\tdefer jsii.Close()\n", ""},
		{"\tdefer passthrough.ExitOnValidationError() // invalid props: one line and exit 1, no stack trace\n", ""},
		{"\t" + readmeOptIn + "\n", "\tif strict {\n\t\t" + strings.TrimPrefix(readmeOptIn, "// ") + "\n\t}\n"},
		{"\tapp.Synth(nil)\n}\n", "\tapp.Synth(nil)\n\treturn app\n}\n"},
	}
	for _, e := range edits {
		if strings.Count(program, e.old) != 1 {
			return "", fmt.Errorf("the README's usage does not have the line %q exactly once; update readmeUsageSource", strings.TrimSpace(e.old))
		}
		program = strings.Replace(program, e.old, e.new, 1)
	}
	return program, nil
}

// The README's usage, compiled into this package, is exactly the README's
// program; `go test ./test -update` rewrites it after the README changes.
func TestReadmeUsageIsCompiledFromTheReadme(t *testing.T) {
	program, err := readmeUsage()
	if err != nil {
		t.Fatal(err)
	}
	source, err := readmeUsageSource(program)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, readmeUsageFile, []byte(source))
}

// runReadmeUsage runs the README's main, reporting a panic (a jsii error,
// a *ValidationError) as an error.
func runReadmeUsage(strict bool) (app awscdk.App, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return readmeUsageApp(strict), nil
}

// synthesizeReadmeUsage synthesizes the README's usage, with and without
// its opt-in line, in apps with no CDK context (no feature flag is set),
// and returns the templates.
func synthesizeReadmeUsage(t testing.TB) []example {
	t.Helper()
	if v, ok := os.LookupEnv("CDK_CONTEXT_JSON"); ok {
		t.Fatalf("CDK_CONTEXT_JSON is set (%.80s): the README's usage must synthesize without context", v)
	}
	var templates []example
	for _, variant := range []struct {
		prefix string
		strict bool
	}{{"README/", false}, {"README+Strict/", true}} {
		app, err := runReadmeUsage(variant.strict)
		if err != nil {
			t.Fatalf("the README's usage (%s): %v", variant.prefix, err)
		}
		// The app synthesized into a directory of its own choosing (it
		// has no CDK_OUTDIR), which nothing else reads.
		t.Cleanup(func() { os.RemoveAll(*app.Outdir()) })
		for _, stack := range *app.Synth(nil).Stacks() {
			tpl, _ := stack.Template().(map[string]any)
			templates = append(templates, example{name: variant.prefix + *stack.StackName(), template: tpl})
		}
	}
	if len(templates) == 0 {
		t.Fatal("the README's usage synthesized no template")
	}
	return templates
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
		freshTemplates = synthesizeReadmeUsage(t)
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
	if offloaded(t) {
		return
	}
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
