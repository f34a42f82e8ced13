// Command rollout prints, for every ECS service of the synthesized templates
// it is given, the modelled time of one rolling deployment term by term, how
// long a stopped task keeps serving and whether the deregistration delay
// covers the load balancer's drain window, beside the same figures for
// aws-cdk-lib's NetworkLoadBalancedFargateService at the same task count.
// The model and the sources of its constants are in package
// internal/rollout; docs/rollout.md is its output for the golden templates,
// regenerated with the other golden files by `go test ./... -update`.
//
// Usage:
//
//	go run ./cmd/rollout [flags] TEMPLATE.json...
//
// A template's stack is its file name without ".template.json", as
// `cdk synth` names them.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/passthrough-cdk/passthrough/internal/cfn"
	"github.com/passthrough-cdk/passthrough/internal/rollout"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit status, 0 for
// success, 1 for a template it cannot model and 2 for bad usage.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rollout", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := rollout.DefaultConstants()
	fs.DurationVar(&c.TaskStart, "task-start", c.TaskStart, "image pull and task start (an assumption; see rollout.DefaultTaskStart)")
	fs.DurationVar(&c.RegistrationDelay, "registration-delay", c.RegistrationDelay, "NLB registration until the first health check (see rollout.DefaultRegistrationDelay)")
	fs.DurationVar(&c.DrainWindow, "drain-window", c.DrainWindow, "how long an NLB sends new connections to a deregistered target (see rollout.DefaultDrainWindow)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: rollout [flags] TEMPLATE.json...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	templates := map[string]map[string]any{}
	for _, path := range fs.Args() {
		raw, err := os.ReadFile(path)
		var tpl map[string]any
		if err == nil {
			if err = json.Unmarshal(raw, &tpl); err != nil {
				err = fmt.Errorf("%s: %w", path, err)
			}
		}
		if _, dup := templates[cfn.StackName(path)]; dup && err == nil {
			err = fmt.Errorf("%s: a second template of stack %s", path, cfn.StackName(path))
		}
		if err != nil {
			fmt.Fprintln(stderr, "rollout:", err)
			return 1
		}
		templates[cfn.StackName(path)] = tpl
	}
	out, err := rollout.Markdown(templates, c)
	if err == nil {
		_, err = stdout.Write(out)
	}
	if err != nil {
		fmt.Fprintln(stderr, "rollout:", err)
		return 1
	}
	return 0
}
