package test

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// offloadEnv marks the second process of this test binary, which runs the
// offloaded tests.
const offloadEnv = "PASSTHROUGH_TEST_OFFLOADED"

// offloadedTests synthesize apps of their own and share nothing with the
// other tests. They run in a second process of this test binary, with a
// jsii runtime of its own, started before the first test
// (background_test.go): jsii serves one request at a time, so within one
// process every synthesis waits for the one before it, and on 2 cores the
// second core would otherwise idle for most of this package's run. A
// second process costs no second link, only a second Node.js start.
var offloadedTests = []string{
	"TestSuppressionsAreValidationAcknowledgements",
	"TestWithoutFeatureFlagsCdkNagFindsNothing",
	"TestExamplesPassCdkNagAwsSolutions",
	"TestSynthesisCostIsLinearInServices",
}

// offloadRun runs the second process, with its jsii runtime behind tee so
// that TestSynthesisCostIsLinearInServices can count round trips (it skips
// when the runtime cannot be found).
var offloadRun = inBackground(func() (string, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^("+strings.Join(offloadedTests, "|")+")$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), offloadEnv+"=1")
	if env, remove, ok := teeRuntime(); ok {
		cmd.Env = append(cmd.Env, env...)
		defer remove()
	}
	out, err := cmd.CombinedOutput()
	// A failing test makes err non-nil too; offloaded reads each test's
	// own outcome from the output.
	return string(out), err
})

// offloaded is called first by every test in offloadedTests. In the second
// process it returns false and the test runs; in this one it waits for the
// second process (after this process's other tests), reports the test's
// outcome there as this test's, and returns true: the test must then
// return.
func offloaded(t *testing.T) bool {
	t.Helper()
	if os.Getenv(offloadEnv) != "" {
		return false
	}
	if !slices.Contains(offloadedTests, t.Name()) {
		t.Fatalf("%s calls offloaded but is not in offloadedTests", t.Name())
	}
	// Parallel: the wait begins once every other test of this process has
	// run, so the two processes work side by side until then.
	t.Parallel()
	out, err := offloadRun.wait()
	if strings.Contains(out, "--- PASS: "+t.Name()+" (") {
		t.Logf("passed in the second process of this test binary:\n%s", sectionOf(out, t.Name()))
		return true
	}
	if strings.Contains(out, "--- SKIP: "+t.Name()+" (") {
		t.Skipf("skipped in the second process of this test binary:\n%s", out)
	}
	t.Fatalf("failed in the second process of this test binary (%v):\n%s", err, out)
	return true
}

// sectionOf is the part of a -test.v output from test name's start to its
// result line.
func sectionOf(out, name string) string {
	start := strings.Index(out, "=== RUN   "+name+"\n")
	end := strings.Index(out, "--- PASS: "+name+" (")
	if start < 0 || end < start {
		return ""
	}
	return out[start:end]
}
