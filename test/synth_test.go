package test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/examples/stacks"
	"github.com/passthrough-cdk/passthrough/internal/cdktest"
)

// strictValidation is the context key that turns aws-cdk-lib's built-in
// CloudFormation validation from warnings into synthesis errors.
const strictValidation = "@aws-cdk/core:strictCfnValidateErrors"

// With strict validation on (`-c @aws-cdk/core:strictCfnValidateErrors=true`)
// the built-in CloudFormation validation reports no finding for any example.
func TestStrictValidationHasNoFinding(t *testing.T) {
	ctx := cdktest.AppContext(t)
	ctx[strictValidation] = true
	app := cdktest.NewApp(t, ctx)
	stacks.All(app)
	assembly := cdktest.Synth(t, app)
	findings, err := cdktest.ValidationFindings(*assembly.Directory())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range findings {
		t.Error(f)
	}
}

// recorder is a testing.TB that records failures instead of reporting
// them, so a test can check what a helper reports. Fatal ends the calling
// goroutine, as testing.T's does; run the helper with recorder.run.
type recorder struct {
	testing.TB
	failures []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}
func (r *recorder) Error(args ...any) { r.failures = append(r.failures, fmt.Sprint(args...)) }
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Fatal(args ...any) {
	r.Error(args...)
	runtime.Goexit()
}

// run calls f on its own goroutine and waits for it, whether it returns or
// stops at a Fatal.
func (r *recorder) run(f func(testing.TB)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
}

// A template with a finding makes Synth fail the test with the finding's
// rule and resource, instead of panicking out of the test binary; and the
// test goes on running after it.
func TestSynthReportsValidationFindingsAsTestFailures(t *testing.T) {
	rec := &recorder{TB: t}
	rec.run(func(tb testing.TB) {
		app := cdktest.NewApp(tb, map[string]any{strictValidation: true})
		stack := awscdk.NewStack(app, jsii.String("Invalid"), nil)
		// A security group needs GroupDescription.
		awscdk.NewCfnResource(stack, jsii.String("NoDescription"), &awscdk.CfnResourceProps{
			Type:       jsii.String("AWS::EC2::SecurityGroup"),
			Properties: &map[string]any{"NotAProperty": "x"},
		})
		cdktest.Synth(tb, app)
		rec.Error("Synth returned for an app that strict validation refuses")
	})
	if len(rec.failures) != 1 {
		t.Fatalf("Synth reported %d failures, want 1: %q", len(rec.failures), rec.failures)
	}
	got := rec.failures[0]
	if strings.Contains(got, "validation-report.json") {
		t.Errorf("the failure points at a report file the test removes: %s", got)
	}
	for _, want := range []string{"synthesis failed: ValidationFailed", "F3003", "'GroupDescription' is a required property", "Invalid/NoDescription"} {
		if !strings.Contains(got, want) {
			t.Errorf("the failure does not mention %q", want)
		}
	}
}
