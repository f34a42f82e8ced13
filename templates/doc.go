// Package templates holds the test of the `cdk init` templates in this
// directory, one per architecture: it creates an app from each template as
// a new user would, runs the app's own tests, synthesizes it, and compares
// its stacks with the example stacks they are made from.
//
// It is a module of its own so that `go test ./...` at the repository root
// does not run it: every generated app links aws-cdk-go again, which takes
// minutes. Run it with `make templates` (docs/templates.md).
package templates
