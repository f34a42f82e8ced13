// Command examples is the CDK app that the repository's cdk.json runs: it
// synthesizes every example stack, so `cdk synth` lists them all and
// `cdk deploy STACK` deploys one.
package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
	"github.com/passthrough-cdk/passthrough/examples/stacks"
)

func main() {
	defer jsii.Close()
	// Invalid props: one line on stderr and exit status 1, not a stack trace.
	defer passthrough.ExitOnValidationError()

	app := awscdk.NewApp(nil)
	stacks.All(app)
	app.Synth(nil)
}
