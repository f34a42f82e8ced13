package passthrough

import (
	"sync"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/jsii-runtime-go"
)

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
