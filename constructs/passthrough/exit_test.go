package passthrough_test

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
)

// exitCaseEnv names the case a re-executed test binary runs as its main:
// ExitOnValidationError ends the process, so each case runs in a process of
// its own.
const exitCaseEnv = "PASSTHROUGH_EXIT_CASE"

// exitCases are the mains that the subprocesses run, each deferring
// ExitOnValidationError the way a CDK app's main does.
var exitCases = map[string]func(t *testing.T){
	"invalid props": func(t *testing.T) {
		f := newFixture(t, false)
		f.fargate("Api", 443)
		f.fargate("Admin", 443)
	},
	"line break in a value": func(t *testing.T) {
		panic(&passthrough.ValidationError{Path: "App/Api", Prop: "ServiceName", Value: `"api` + "\r\n" + `v2"`, Reason: "is not a valid name"})
	},
	"wrapped": func(t *testing.T) {
		panic(errors.Join(errors.New("while building Payments"), &passthrough.ValidationError{Path: "App/Api", Prop: "Cluster", Reason: "is required"}))
	},
	"other panic": func(t *testing.T) { panic("not a validation error") },
	"no panic":    func(t *testing.T) {},
}

func TestExitOnValidationErrorSubprocess(t *testing.T) {
	name := os.Getenv(exitCaseEnv)
	if name == "" {
		t.Skip("runs only as the subprocess of TestExitOnValidationError")
	}
	defer jsii.Close()
	defer passthrough.ExitOnValidationError()
	exitCases[name](t)
}

// A validation error ends the app with exit status 1 and exactly one line on
// stderr: the error's message, with no stack trace. Any other panic is left
// alone, stack trace included, and an app that does not panic exits 0.
func TestExitOnValidationError(t *testing.T) {
	cases := []struct {
		name     string
		wantCode int
		// wantStderr is the whole of stderr when set; otherwise it must
		// contain wantContains.
		wantStderr   string
		wantContains []string
	}{
		{
			name:       "invalid props",
			wantCode:   1,
			wantStderr: "passthrough: Test/Admin: ListenerPort 443: is already used by Test/Api on load balancer Test/LB; give each service its own listener port\n",
		},
		{
			name:       "line break in a value",
			wantCode:   1,
			wantStderr: `passthrough: App/Api: ServiceName "api\r\nv2": is not a valid name` + "\n",
		},
		{
			name:       "wrapped",
			wantCode:   1,
			wantStderr: "passthrough: App/Api: Cluster: is required\n",
		},
		{
			name:         "other panic",
			wantCode:     2,
			wantContains: []string{"panic: not a validation error", "goroutine "},
		},
		{name: "no panic", wantCode: 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestExitOnValidationErrorSubprocess$", "-test.count=1")
			// The subprocess's temporary directories (os.Exit skips their
			// cleanup) go where this test removes them.
			cmd.Env = append(os.Environ(), exitCaseEnv+"="+tc.name, "TMPDIR="+t.TempDir())
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			code := 0
			if exit, ok := err.(*exec.ExitError); ok {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.wantCode {
				t.Errorf("exit status %d, want %d; stderr:\n%s", code, tc.wantCode, stderr.String())
			}
			if tc.wantStderr != "" && stderr.String() != tc.wantStderr {
				t.Errorf("stderr:\n%q\nwant:\n%q", stderr.String(), tc.wantStderr)
			}
			for _, s := range tc.wantContains {
				if !strings.Contains(stderr.String(), s) {
					t.Errorf("stderr does not contain %q:\n%s", s, stderr.String())
				}
			}
		})
	}
}
