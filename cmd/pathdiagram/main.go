// Command pathdiagram draws the traffic paths of synthesized CloudFormation
// templates as Mermaid flowcharts: the clients a load balancer admits, its
// listeners, their target groups and the ECS services behind them, with the
// security group rules that open each hop written on the edges.
//
// The diagrams are committed in docs/diagrams, one Markdown file per example
// stack, so that a change to who can reach what shows up in review as a
// change to a picture, next to the change of the golden template that causes
// it. A test fails when they fall behind the golden templates.
//
// Usage:
//
//	pathdiagram TEMPLATE...              print each template's Markdown
//	pathdiagram -write DIR TEMPLATE...   write DIR/<Stack>.md for each
//	pathdiagram -check DIR TEMPLATE...   fail if DIR differs from them
//
// The stack name is the template's file name without ".template.json", as
// `cdk synth` and the golden files name them. Regenerate the committed
// diagrams from the repository root with
//
//	go run ./cmd/pathdiagram -write docs/diagrams test/testdata/*.template.json
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
)

// regenerate is the command that rewrites the committed diagrams, run from
// the repository root.
const regenerate = "go run ./cmd/pathdiagram -write docs/diagrams test/testdata/*.template.json"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the command without the process: it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pathdiagram", flag.ContinueOnError)
	fs.SetOutput(stderr)
	writeDir := fs.String("write", "", "write `DIR`/<Stack>.md for each template instead of printing")
	checkDir := fs.String("check", "", "compare `DIR`/<Stack>.md with each template's diagram and fail on a difference")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: pathdiagram [-write DIR | -check DIR] TEMPLATE.template.json...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 || (*writeDir != "" && *checkDir != "") {
		fs.Usage()
		return 2
	}
	templates := fs.Args()
	switch {
	case *checkDir != "":
		diffs, err := check(*checkDir, templates)
		if err != nil {
			fmt.Fprintln(stderr, "pathdiagram:", err)
			return 1
		}
		for _, d := range diffs {
			fmt.Fprintln(stderr, d)
		}
		if len(diffs) > 0 {
			fmt.Fprintf(stderr, "regenerate the diagrams with: %s\n", regenerate)
			return 1
		}
	case *writeDir != "":
		if err := write(*writeDir, templates); err != nil {
			fmt.Fprintln(stderr, "pathdiagram:", err)
			return 1
		}
	default:
		for i, path := range templates {
			doc, err := documentFile(path)
			if err != nil {
				fmt.Fprintln(stderr, "pathdiagram:", err)
				return 1
			}
			if i > 0 {
				fmt.Fprintln(stdout)
			}
			fmt.Fprint(stdout, doc)
		}
	}
	return 0
}
