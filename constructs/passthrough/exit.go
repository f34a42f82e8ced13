package passthrough

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/aws/jsii-runtime-go"
)

// ExitOnValidationError turns invalid props into one line on stderr and exit
// status 1, so that `cdk synth` shows the [ValidationError]'s message (the
// construct path, the value and the fix) instead of a Go stack trace. Defer
// it in a CDK app's main, after jsii.Close:
//
//	func main() {
//		defer jsii.Close()
//		defer passthrough.ExitOnValidationError()
//		app := awscdk.NewApp(nil)
//		...
//		app.Synth(nil)
//	}
//
// It must be deferred by main itself: it uses recover, which only stops a
// panic in a function that was deferred directly. That is also why it is a
// deferred call and not a wrapper around app.Synth: constructors panic while
// main builds the stacks, before Synth is called. Any other panic goes on as
// it was, with its stack trace. It closes the jsii runtime before exiting,
// since os.Exit skips the deferred jsii.Close.
func ExitOnValidationError() {
	r := recover()
	if r == nil {
		return
	}
	var invalid *ValidationError
	if err, ok := r.(error); !ok || !errors.As(err, &invalid) {
		panic(r)
	}
	fmt.Fprintln(os.Stderr, oneLine(invalid.Error()))
	jsii.Close()
	os.Exit(1)
}

// oneLine keeps a message on one line: a value taken from props (a service
// name, say) could hold a line break.
func oneLine(msg string) string {
	return strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(msg)
}
