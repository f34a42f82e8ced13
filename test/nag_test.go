package test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/cloudformationinclude"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/passthrough-cdk/passthrough/examples/stacks"
	"github.com/passthrough-cdk/passthrough/internal/cdktest"
)

// nagFindings applies cdk-nag's AwsSolutions pack to stack and returns its
// unsuppressed errors and warnings, one "path: message" line each.
func nagFindings(t *testing.T, stack awscdk.Stack) []string {
	t.Helper()
	awscdk.Aspects_Of(stack).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(false), Reports: jsii.Bool(false)}), nil)
	annotations := assertions.Annotations_FromStack(stack)
	match := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
	var out []string
	for _, found := range []*[]*cxapi.SynthesisMessage{
		annotations.FindError(jsii.String("*"), match),
		annotations.FindWarning(jsii.String("*"), match),
	} {
		for _, m := range *found {
			msg := fmt.Sprint(m.Entry.Data)
			if i := strings.Index(msg, "\n"); i > 0 {
				msg = msg[:i]
			}
			out = append(out, *m.Id+": "+msg)
		}
	}
	sort.Strings(out)
	return out
}

// Every example passes cdk-nag's AwsSolutions pack with no unsuppressed
// error or warning. The same test runs the pack on a deliberately
// non-compliant stack and requires findings, so a pack that never ran
// cannot pass for one that found nothing.
func TestExamplesPassCdkNagAwsSolutions(t *testing.T) {
	if offloaded(t) {
		return
	}
	// With annotationsInValidationReport on, cdk-nag's error annotations
	// would abort synthesis; off, they stay annotations the test can read.
	ctx := cdktest.AppContext(t)
	delete(ctx, "@aws-cdk/core:annotationsInValidationReport")
	fixture := awscdk.NewStack(cdktest.NewApp(t, ctx), jsii.String("NonCompliant"), nil)
	awss3.NewBucket(fixture, jsii.String("Bucket"), nil) // no SSL enforcement, no access logs
	if findings := nagFindings(t, fixture); len(findings) == 0 {
		t.Fatal("cdk-nag found nothing in a non-compliant stack: the checks did not run")
	}
	for _, stack := range stacks.All(cdktest.NewApp(t, ctx)) {
		t.Run(*stack.StackName(), func(t *testing.T) {
			for _, f := range nagFindings(t, stack) {
				t.Error(f)
			}
		})
	}
}

// nagFindingsFromOutside runs cdk-nag's AwsSolutions pack the way a
// platform team does on templates it did not write: each template is read
// into a new app with cloudformationinclude, which turns every resource
// into its typed L1 construct (the custom resource roles that aws-cdk-lib
// writes as plain CfnResources included), and the pack runs on those. The
// templates' cdk_nag metadata is what suppresses findings.
func nagFindingsFromOutside(t *testing.T, ex example) []string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "template.json")
	raw, err := json.Marshal(ex.template)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	// Bootstrapless: the included template brings its own BootstrapVersion
	// parameter.
	stack := awscdk.NewStack(cdktest.NewApp(t, nil), jsii.String("Included"), &awscdk.StackProps{
		Synthesizer: awscdk.NewBootstraplessSynthesizer(nil),
	})
	cloudformationinclude.NewCfnInclude(stack, jsii.String("Template"), &cloudformationinclude.CfnIncludeProps{TemplateFile: jsii.String(file)})
	return nagFindings(t, stack)
}

// cdk-nag's AwsSolutions pack, run from outside on every example's
// template and on the README's usage (with and without
// NewStrictCompliance), finds nothing that is not suppressed with its
// reason on its resource. A deliberately non-compliant template must
// produce findings the same way.
func TestExampleTemplatesPassCdkNagFromOutside(t *testing.T) {
	fixture := example{name: "NonCompliant", template: map[string]any{"Resources": map[string]any{
		"Bucket": map[string]any{"Type": "AWS::S3::Bucket"},
	}}}
	if findings := nagFindingsFromOutside(t, fixture); len(findings) == 0 {
		t.Fatal("cdk-nag found nothing in a non-compliant template: the checks did not run")
	}
	for _, ex := range append(examples(t), readmeTemplates(t)...) {
		t.Run(ex.name, func(t *testing.T) {
			for _, f := range nagFindingsFromOutside(t, ex) {
				t.Error(f)
			}
		})
	}
}
