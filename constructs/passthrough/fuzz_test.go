package passthrough_test

import (
	"errors"
	"math"
	"runtime/debug"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
	"github.com/passthrough-cdk/passthrough/internal/cdktest"
)

// FuzzServiceProps builds a service from arbitrary numeric and string props
// and synthesizes it. The only acceptable outcomes are a template, or a
// *ValidationError before any resource is created: any other panic (a jsii
// error from aws-cdk-lib, a nil dereference) means a bad input got past the
// validation. The seed corpus is in testdata/fuzz/FuzzServiceProps; plain
// `go test` runs it, and `make fuzz` explores further for a bounded time.
func FuzzServiceProps(f *testing.F) {
	f.Add(443.0, 8443.0, 2.0, 256.0, 512.0, 5.0, 2.0, 2.0, 120.0, 30.0, 100.0, "app", false)
	f.Add(0.0, 70000.0, 0.0, 300.0, 100.0, 1.0, 1.0, 11.0, 4000.0, 200.0, 150.0, "my app", true)
	f.Add(443.5, -1.0, 1.0, 16384.0, 122880.0, 300.0, 10.0, 10.0, 0.0, 2.0, 0.0, "", false)
	f.Fuzz(func(t *testing.T, listenerPort, containerPort, desired, cpu, memory, interval, healthy, unhealthy, dereg, stop, minHealthy float64, name string, ec2 bool) {
		// A fuzzing worker's standard output and error go nowhere: an
		// unrecovered panic kills it with exit status 2 and the
		// coordinator reports only "fuzzing process hung or terminated
		// unexpectedly". Report any panic that escapes the checks below
		// as a failure with its message and stack, which the coordinator
		// prints and records with the input.
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("panicked outside the props under test: %v\n%s", r, debug.Stack())
			}
		}()
		for _, d := range []float64{interval, dereg, stop} {
			// aws-cdk-lib's Duration itself refuses these, before any
			// Passthrough code runs.
			if math.IsNaN(d) || math.IsInf(d, 0) || d < 0 || d > 1e9 {
				t.Skip("not a duration aws-cdk-lib can represent")
			}
		}
		f := newFixture(t, ec2)
		props := passthrough.ServiceProps{
			Cluster:                 f.cluster,
			LoadBalancer:            f.lb,
			Image:                   f.image,
			ListenerPort:            jsii.Number(listenerPort),
			ContainerPort:           jsii.Number(containerPort),
			DesiredCount:            jsii.Number(desired),
			HealthCheckInterval:     awscdk.Duration_Seconds(jsii.Number(interval)),
			HealthyThresholdCount:   jsii.Number(healthy),
			UnhealthyThresholdCount: jsii.Number(unhealthy),
			DeregistrationDelay:     awscdk.Duration_Seconds(jsii.Number(dereg)),
			StopTimeout:             awscdk.Duration_Seconds(jsii.Number(stop)),
			MinHealthyPercent:       jsii.Number(minHealthy),
			ContainerName:           jsii.String(name),
		}
		built := func() (err error) {
			defer func() {
				if r := recover(); r != nil {
					var invalid *passthrough.ValidationError
					if e, ok := r.(error); ok && errors.As(e, &invalid) {
						err = invalid
						return
					}
					t.Fatalf("panicked with %T %v, want a *passthrough.ValidationError", r, r)
				}
			}()
			if ec2 {
				passthrough.NewEC2Service(f.stack, jsii.String("Api"), &passthrough.EC2ServiceProps{
					ServiceProps: props, CPU: jsii.Number(cpu), MemoryLimitMiB: jsii.Number(memory),
				})
			} else {
				newFargate(f, "Api", props, cpu, memory)
			}
			return nil
		}()
		if built != nil {
			return
		}
		// Valid props must synthesize: TemplateOf fails the test on any
		// synthesis error.
		cdktest.TemplateOf(t, f.stack)
	})
}
