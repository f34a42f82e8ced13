// Command examples is the CDK app that the repository's cdk.json runs: it
// synthesizes every example stack, so `cdk synth` lists them all and
// `cdk deploy STACK` deploys one.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
	"github.com/passthrough-cdk/passthrough/examples/stacks"
)

func main() {
	defer jsii.Close()
	defer reportInvalidProps()

	app := awscdk.NewApp(nil)
	stacks.All(app)
	app.Synth(nil)
}

// reportInvalidProps turns a construct's validation panic into one line on
// stderr and exit status 1, so `cdk synth` shows the message, not a Go stack
// trace. Any other panic goes on as it was.
func reportInvalidProps() {
	r := recover()
	if r == nil {
		return
	}
	var invalid *passthrough.ValidationError
	if err, ok := r.(error); ok && errors.As(err, &invalid) {
		fmt.Fprintln(os.Stderr, invalid)
		jsii.Close()
		os.Exit(1)
	}
	panic(r)
}
