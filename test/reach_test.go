package test

import (
	"testing"

	"github.com/passthrough-cdk/passthrough/internal/cdktest"
	"github.com/passthrough-cdk/passthrough/internal/reach"
)

// Every example's security groups, listeners, target groups and services,
// read the way CloudFormation allows them to be written, open each listener's
// path to its service and nothing else.
func TestExamplesReachability(t *testing.T) {
	forEachGuarantee(t, func(t *testing.T, tpl *cdktest.Template) {
		report, err := reach.Analyze(tpl.JSON())
		if err != nil {
			t.Fatal(err)
		}
		if len(report.Paths) == 0 {
			t.Fatal("no listener path found")
		}
		for _, p := range report.Paths {
			if !p.Open() {
				t.Errorf("path through listener %s is not open: %v", p.Listener.ID, p.Failures)
			}
		}
		for _, problem := range report.Problems() {
			t.Error(problem)
		}
	})
}
