// Command tlscheck is the lifecycle hook that Passthrough's blue/green
// services run after ECS shifts test traffic to the new tasks: it connects
// through the test listener, takes the certificate the new tasks present and
// fails the hook (so that ECS rolls back before production traffic moves)
// unless the certificate is valid for the service's names, is not within the
// expiry alarm's threshold and, when fingerprints are configured, is one of
// them.
//
// It reads its configuration from the environment (the TLSCHECK_ variables)
// and nothing else: no secret, no AWS API. Run outside Lambda it checks once
// with flags and exits 0 or 1, which is how it is tried against a server
// started by hand (functions/README.md).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

// The function's environment, set by the construct.
const (
	EnvAddress      = "TLSCHECK_ADDRESS"
	EnvServerNames  = "TLSCHECK_SERVER_NAMES"
	EnvMinDaysLeft  = "TLSCHECK_MIN_DAYS_LEFT"
	EnvFingerprints = "TLSCHECK_FINGERPRINTS"
	EnvConnections  = "TLSCHECK_CONNECTIONS"
)

// Defaults of what the environment leaves out.
const (
	defaultConnections = 3
	defaultTimeout     = 5 * time.Second
)

// Hook statuses ECS understands ("Lambda hooks for Amazon ECS service
// deployments", Amazon ECS developer guide): SUCCEEDED continues the
// deployment, FAILED rolls it back.
const (
	statusSucceeded = "SUCCEEDED"
	statusFailed    = "FAILED"
)

// hookEvent is the part of ECS's lifecycle payload the function logs.
type hookEvent struct {
	ServiceArn               string `json:"serviceArn"`
	TargetServiceRevisionArn string `json:"targetServiceRevisionArn"`
}

// hookResponse is what ECS reads back.
type hookResponse struct {
	HookStatus string `json:"hookStatus"`
}

// configFromEnv reads the check's configuration from getenv.
func configFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		Address:      getenv(EnvAddress),
		ServerNames:  splitList(getenv(EnvServerNames)),
		Fingerprints: normalizeFingerprints(splitList(getenv(EnvFingerprints))),
		Connections:  defaultConnections,
		Timeout:      defaultTimeout,
	}
	if c.Address == "" {
		return c, fmt.Errorf("%s is not set", EnvAddress)
	}
	if len(c.ServerNames) == 0 {
		return c, fmt.Errorf("%s is not set", EnvServerNames)
	}
	if s := getenv(EnvMinDaysLeft); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return c, fmt.Errorf("%s=%q is not a number of days", EnvMinDaysLeft, s)
		}
		c.MinDaysLeft = n
	}
	if s := getenv(EnvConnections); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return c, fmt.Errorf("%s=%q is not a positive number", EnvConnections, s)
		}
		c.Connections = n
	}
	return c, nil
}

// normalizeFingerprints accepts hex with or without colons, in any case.
func normalizeFingerprints(fps []string) []string {
	out := make([]string, len(fps))
	for i, f := range fps {
		out[i] = strings.ToLower(strings.ReplaceAll(f, ":", ""))
	}
	return out
}

// handle runs the check for one hook invocation. A configuration error
// fails the hook too: a deployment must not pass a check that did not run.
func handle(ctx context.Context, log *slog.Logger, c Config, cerr error, ev hookEvent) hookResponse {
	attrs := []any{"service", ev.ServiceArn, "revision", ev.TargetServiceRevisionArn, "address", c.Address}
	if cerr != nil {
		log.Error("tlscheck misconfigured", append(attrs, "error", cerr.Error())...)
		return hookResponse{HookStatus: statusFailed}
	}
	if err := Check(ctx, c, time.Now); err != nil {
		log.Error("tlscheck failed", append(attrs, "error", err.Error())...)
		return hookResponse{HookStatus: statusFailed}
	}
	log.Info("tlscheck passed", append(attrs, "connections", c.Connections)...)
	return hookResponse{HookStatus: statusSucceeded}
}

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	if os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" {
		c, cerr := configFromEnv(os.Getenv)
		lambda.Start(func(ctx context.Context, raw json.RawMessage) (hookResponse, error) {
			var ev hookEvent
			_ = json.Unmarshal(raw, &ev) // logged only; the check needs none of it
			return handle(ctx, log, c, cerr, ev), nil
		})
		return
	}
	os.Exit(runCLI(os.Args[1:], os.Stdout, os.Stderr))
}

// runCLI checks once with flags, for trying the hook against a server by
// hand, and returns the exit code.
func runCLI(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tlscheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	address := fs.String("address", "", "HOST:PORT to check (the test listener)")
	names := fs.String("names", "", "comma-separated names the certificate must be valid for; the first is sent as SNI")
	minDays := fs.Int("min-days", 0, "days the certificate must still be valid for")
	fingerprints := fs.String("fingerprints", "", "optional comma-separated SHA-256 fingerprints of the accepted leaf certificates")
	connections := fs.Int("connections", 1, "connections to check")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	env := map[string]string{
		EnvAddress: *address, EnvServerNames: *names, EnvFingerprints: *fingerprints,
		EnvMinDaysLeft: strconv.Itoa(*minDays), EnvConnections: strconv.Itoa(*connections),
	}
	c, cerr := configFromEnv(func(k string) string { return env[k] })
	log := slog.New(slog.NewJSONHandler(stdout, nil))
	if r := handle(context.Background(), log, c, cerr, hookEvent{}); r.HookStatus != statusSucceeded {
		return 1
	}
	return 0
}
