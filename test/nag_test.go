package test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
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
