package passthrough

import (
	"fmt"
	"math"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// ValidationError reports props that would synthesize a template that
// CloudFormation rejects, or one that deploys but does not work. Constructors
// panic with it before creating any resource, so `cdk synth` stops on the
// first line of output with the construct path and the bad value, instead of
// a deployment failing minutes later.
type ValidationError struct {
	// Path is the construct path of the construct whose props are invalid.
	Path string
	// Prop names the offending field, as written in the props struct.
	Prop string
	// Value is the offending value, formatted for the message.
	Value string
	// Reason says what is wrong and how to fix it.
	Reason string
}

func (e *ValidationError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("passthrough: %s: %s: %s", e.Path, e.Prop, e.Reason)
	}
	return fmt.Sprintf("passthrough: %s: %s %s: %s", e.Path, e.Prop, e.Value, e.Reason)
}

// validator collects the first problem found in a construct's props. The
// construct path is only looked up (one jsii round trip) when there is a
// problem to report.
type validator struct {
	scope constructs.Construct
	err   *ValidationError
}

func (v *validator) fail(prop, value, reason string) {
	if v.err != nil {
		return
	}
	v.err = &ValidationError{Path: *v.scope.Node().Path(), Prop: prop, Value: value, Reason: reason}
}

func (v *validator) failf(prop, value, format string, args ...any) {
	v.fail(prop, value, fmt.Sprintf(format, args...))
}

// check panics with the first problem found, if any.
func (v *validator) check() {
	if v.err != nil {
		panic(v.err)
	}
}

func (v *validator) required(prop string, isSet bool) {
	if !isSet {
		v.fail(prop, "", "is required")
	}
}

// intRange checks that n, when set, is a whole number in [lo, hi]. A value
// that is an unresolved token (for example a CloudFormation parameter) is
// accepted: it is only known at deploy time. Tokens are encoded as huge
// negative numbers, so the jsii round trip that recognises them is only made
// for values that are already out of range.
func (v *validator) intRange(prop string, n *float64, lo, hi float64) {
	if n == nil || isWholeIn(*n, lo, hi) || isToken(*n) {
		return
	}
	if math.IsNaN(*n) || math.IsInf(*n, 0) {
		v.failf(prop, formatNumber(*n), "is not a number; it must be a whole number from %s to %s", formatNumber(lo), formatNumber(hi))
		return
	}
	v.failf(prop, formatNumber(*n), "must be a whole number from %s to %s", formatNumber(lo), formatNumber(hi))
}

// seconds checks that a duration, when set, is a whole number of seconds in
// [lo, hi].
func (v *validator) seconds(prop string, d awscdk.Duration, lo, hi float64) {
	if d == nil {
		return
	}
	s := d.ToSeconds(&awscdk.TimeConversionOptions{Integral: jsii.Bool(false)})
	if isWholeIn(*s, lo, hi) || isToken(*s) {
		return
	}
	v.failf(prop, formatNumber(*s)+"s", "must be a whole number of seconds from %s to %s", formatNumber(lo), formatNumber(hi))
}
