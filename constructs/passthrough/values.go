package passthrough

import (
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/jsii-runtime-go"
)

// The package's small shared helpers: defaults of optional props, tokens,
// numbers in messages, and the jsii values every service needs.

// valueOr is *p, or d when p is nil.
func valueOr[T any](p *T, d T) T {
	if p == nil {
		return d
	}
	return *p
}

// pointerOr is p, or a pointer to d when p is nil.
func pointerOr[T any](p *T, d T) *T {
	if p == nil {
		return &d
	}
	return p
}

// durationOr is d, or n seconds when d is nil.
func durationOr(d awscdk.Duration, n float64) awscdk.Duration {
	if d == nil {
		return seconds(n)
	}
	return d
}

// isToken reports whether n encodes an unresolved token. Tokens are finite
// numbers; NaN and infinities never are, and cannot cross to jsii as JSON.
func isToken(n float64) bool {
	if math.IsNaN(n) || math.IsInf(n, 0) {
		return false
	}
	return *awscdk.Token_IsUnresolved(jsii.Number(n))
}

// isTokenString reports whether s is an unresolved token, known only at
// deploy time.
func isTokenString(s string) bool {
	return *awscdk.Token_IsUnresolved(jsii.String(s))
}

func isWholeIn(n, lo, hi float64) bool {
	return n >= lo && n <= hi && n == math.Trunc(n)
}

func formatNumber(n float64) string {
	return fmt.Sprintf("%g", n)
}

// sameVpc tells whether a and b are the same VPC: the same object, or the
// same VPC ID.
func sameVpc(a, b interface{ VpcId() *string }) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a == b || *a.VpcId() == *b.VpcId()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Every aws-cdk-go call is a round trip to the Node.js process that runs
// aws-cdk-lib, so the immutable values every service needs (durations,
// ports, the any-IPv4 peer) are made once per process and shared. They
// belong to no construct tree, so sharing them across stacks and apps is
// safe. This keeps the cost of a service in jsii calls, and so in
// synthesis time, down.
var (
	durations sync.Map // float64 seconds -> awscdk.Duration
	tcpPorts  sync.Map // float64 port -> awsec2.Port
	anyIPv4   = sync.OnceValue(awsec2.Peer_AnyIpv4)
)

// seconds is awscdk.Duration_Seconds(n), shared.
func seconds(n float64) awscdk.Duration {
	if d, ok := durations.Load(n); ok {
		return d.(awscdk.Duration)
	}
	d, _ := durations.LoadOrStore(n, awscdk.Duration_Seconds(jsii.Number(n)))
	return d.(awscdk.Duration)
}

// tcpPort is awsec2.Port_Tcp(n), shared.
func tcpPort(n float64) awsec2.Port {
	if p, ok := tcpPorts.Load(n); ok {
		return p.(awsec2.Port)
	}
	p, _ := tcpPorts.LoadOrStore(n, awsec2.Port_Tcp(jsii.Number(n)))
	return p.(awsec2.Port)
}
