// Command pathdiagram prints the traffic paths of synthesized CloudFormation
// templates as Markdown pages with Mermaid flowcharts (package
// internal/reach/diagram): the clients a load balancer admits, its
// listeners, their target groups and the ECS services behind them, with the
// security group rules that open each hop written on the edges.
//
// Usage:
//
//	go run ./cmd/pathdiagram TEMPLATE.template.json...
//
// The stack name is the template's file name without ".template.json", as
// `cdk synth` names them. docs/diagrams holds the pages of the example
// stacks, regenerated with the other golden files by `go test ./... -update`.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/passthrough-cdk/passthrough/internal/cfn"
	"github.com/passthrough-cdk/passthrough/internal/reach/diagram"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the command without the process: it returns the exit status, 0
// for success, 1 for a template it cannot read and 2 for bad usage.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pathdiagram", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: pathdiagram TEMPLATE.template.json...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	for i, path := range fs.Args() {
		doc, err := document(path)
		if err != nil {
			fmt.Fprintln(stderr, "pathdiagram:", err)
			return 1
		}
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		fmt.Fprint(stdout, doc)
	}
	return 0
}

// document reads a template and returns its Markdown page.
func document(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var tpl map[string]any
	if err := json.Unmarshal(data, &tpl); err != nil {
		return "", fmt.Errorf("%s: decode template: %w", path, err)
	}
	doc, err := diagram.Document(cfn.StackName(path), tpl)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return doc, nil
}
