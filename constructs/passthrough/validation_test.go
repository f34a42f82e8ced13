package passthrough_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
	"github.com/passthrough-cdk/passthrough/internal/cdktest"
)

// Each case builds a fixture, breaks one thing, and expects exactly one
// message that names the construct path and the bad value.
func TestInvalidPropsFailWithPathAndValue(t *testing.T) {
	cases := []invalidCase{
		{
			name:  "listener port zero",
			build: func(f *fixture) { f.fargate("Api", 0) },
			want:  "passthrough: Test/Api: ListenerPort 0: must be a whole number from 1 to 65535",
		},
		{
			name:  "listener port above 65535",
			build: func(f *fixture) { f.fargate("Api", 70000) },
			want:  "passthrough: Test/Api: ListenerPort 70000: must be a whole number from 1 to 65535",
		},
		{
			name:  "fractional listener port",
			build: func(f *fixture) { f.fargate("Api", 443.5) },
			want:  "passthrough: Test/Api: ListenerPort 443.5: must be a whole number from 1 to 65535",
		},
		{
			name: "container port negative",
			build: func(f *fixture) {
				p := f.service(443)
				p.ContainerPort = jsii.Number(-1)
				newFargate(f, "Api", p, 256, 512)
			},
			want: "passthrough: Test/Api: ContainerPort -1: must be a whole number from 1 to 65535",
		},
		{
			name: "container port above 65535 on EC2",
			build: func(f *fixture) {
				p := f.service(443)
				p.ContainerPort = jsii.Number(65536)
				passthrough.NewEC2Service(f.stack, jsii.String("Api"), &passthrough.EC2ServiceProps{ServiceProps: p})
			},
			want: "passthrough: Test/Api: ContainerPort 65536: must be a whole number from 1 to 65535",
		},
		{
			name: "two services on one listener port",
			build: func(f *fixture) {
				f.fargate("Api", 443)
				f.fargate("Admin", 443)
			},
			want: "passthrough: Test/Admin: ListenerPort 443: is already used by Test/Api on load balancer Test/LB; give each service its own listener port",
		},
		{
			name:  "nil props",
			build: func(f *fixture) { passthrough.NewFargateService(f.stack, jsii.String("Api"), nil) },
			want:  "passthrough: Test/Api: Cluster: is required",
		},
		{
			name: "missing image",
			build: func(f *fixture) {
				p := f.service(443)
				p.Image = nil
				newFargate(f, "Api", p, 256, 512)
			},
			want: "passthrough: Test/Api: Image: is required",
		},
		{
			name: "invalid container name",
			build: func(f *fixture) {
				p := f.service(443)
				p.ContainerName = jsii.String("my app")
				newFargate(f, "Api", p, 256, 512)
			},
			want: `passthrough: Test/Api: ContainerName "my app": must be 1 to 255 letters, digits, hyphens or underscores`,
		},
		{
			name: "empty container name",
			build: func(f *fixture) {
				p := f.service(443)
				p.ContainerName = jsii.String("")
				newFargate(f, "Api", p, 256, 512)
			},
			want: `passthrough: Test/Api: ContainerName "": must be 1 to 255 letters, digits, hyphens or underscores`,
		},
		{
			name:  "Fargate CPU that does not exist",
			build: func(f *fixture) { newFargate(f, "Api", f.service(443), 300, 512) },
			want:  "passthrough: Test/Api: CPU 300: is not a Fargate task size; use 256, 512, 1024, 2048, 4096, 8192 or 16384",
		},
		{
			name:  "Fargate memory that the CPU does not offer",
			build: func(f *fixture) { newFargate(f, "Api", f.service(443), 256, 4096) },
			want:  "passthrough: Test/Api: MemoryLimitMiB 4096: is not offered by Fargate with CPU 256 (see the task size table in the Amazon ECS developer guide)",
		},
		{
			name: "desired count zero",
			build: func(f *fixture) {
				p := f.service(443)
				p.DesiredCount = jsii.Number(0)
				newFargate(f, "Api", p, 256, 512)
			},
			want: "passthrough: Test/Api: DesiredCount 0: must be a whole number from 1 to 10000",
		},
		{
			name: "health check interval below the NLB minimum",
			build: func(f *fixture) {
				p := f.service(443)
				p.HealthCheckInterval = awscdk.Duration_Seconds(jsii.Number(1))
				newFargate(f, "Api", p, 256, 512)
			},
			want: "passthrough: Test/Api: HealthCheckInterval 1s: must be a whole number of seconds from 5 to 300",
		},
		{
			name: "healthy threshold above 10",
			build: func(f *fixture) {
				p := f.service(443)
				p.HealthyThresholdCount = jsii.Number(11)
				newFargate(f, "Api", p, 256, 512)
			},
			want: "passthrough: Test/Api: HealthyThresholdCount 11: must be a whole number from 2 to 10",
		},
		{
			name: "unhealthy threshold of 1",
			build: func(f *fixture) {
				p := f.service(443)
				p.UnhealthyThresholdCount = jsii.Number(1)
				newFargate(f, "Api", p, 256, 512)
			},
			want: "passthrough: Test/Api: UnhealthyThresholdCount 1: must be a whole number from 2 to 10",
		},
		{
			name: "deregistration delay above one hour",
			build: func(f *fixture) {
				p := f.service(443)
				p.DeregistrationDelay = awscdk.Duration_Seconds(jsii.Number(4000))
				newFargate(f, "Api", p, 256, 512)
			},
			want: "passthrough: Test/Api: DeregistrationDelay 4000s: must be a whole number of seconds from 0 to 3600",
		},
		{
			name: "stop timeout above ECS's 120 seconds",
			build: func(f *fixture) {
				p := f.service(443)
				p.StopTimeout = awscdk.Duration_Minutes(jsii.Number(3))
				newFargate(f, "Api", p, 256, 512)
			},
			want: "passthrough: Test/Api: StopTimeout 180s: must be a whole number of seconds from 2 to 120",
		},
		{
			name: "minimum healthy percent above 100",
			build: func(f *fixture) {
				p := f.service(443)
				p.MinHealthyPercent = jsii.Number(150)
				newFargate(f, "Api", p, 256, 512)
			},
			want: "passthrough: Test/Api: MinHealthyPercent 150: must be a whole number from 0 to 100",
		},
		{
			name: "maximum percent below 100",
			build: func(f *fixture) {
				p := f.service(443)
				p.MaxHealthyPercent = jsii.Number(90)
				newFargate(f, "Api", p, 256, 512)
			},
			want: "passthrough: Test/Api: MaxHealthyPercent 90: must be a whole number from 100 to 200",
		},
		{
			name:  "EC2 service on a Fargate-only cluster",
			build: func(f *fixture) { f.ec2("Api", 443) },
			want:  "passthrough: Test/Api: Cluster Test/Cluster: has no EC2 capacity; create it with ClusterProps.EC2, or use NewFargateService",
		},
		{
			name: "EC2 memory reservation above the limit",
			build: func(f *fixture) {
				passthrough.NewEC2Service(f.stack, jsii.String("Api"), &passthrough.EC2ServiceProps{
					ServiceProps:         f.service(443),
					MemoryLimitMiB:       jsii.Number(512),
					MemoryReservationMiB: jsii.Number(1024),
				})
			},
			want: "passthrough: Test/Api: MemoryReservationMiB 1024: is above MemoryLimitMiB 512",
		},
		{
			name: "load balancer in another VPC",
			build: func(f *fixture) {
				other := awsec2.NewVpc(f.stack, jsii.String("OtherVpc"), nil)
				p := f.service(443)
				p.LoadBalancer = passthrough.NewLoadBalancer(f.stack, jsii.String("OtherLB"), &passthrough.LoadBalancerProps{Vpc: other})
				newFargate(f, "Api", p, 256, 512)
			},
			want: "passthrough: Test/Api: LoadBalancer Test/OtherLB: is in another VPC than cluster Test/Cluster; an NLB can only reach targets in its own VPC",
		},
		{
			name: "load balancer without VPC",
			build: func(f *fixture) {
				passthrough.NewLoadBalancer(f.stack, jsii.String("NoVpc"), &passthrough.LoadBalancerProps{})
			},
			want: "passthrough: Test/NoVpc: Vpc: is required",
		},
		{
			name: "empty allowed clients",
			build: func(f *fixture) {
				passthrough.NewLoadBalancer(f.stack, jsii.String("Closed"), &passthrough.LoadBalancerProps{Vpc: f.cluster.Vpc, AllowedClients: []awsec2.IPeer{}})
			},
			want: "passthrough: Test/Closed: AllowedClients []: is empty, so no client could connect; leave it nil for the default or name at least one peer",
		},
		{
			name: "cluster capacity minimum above maximum",
			build: func(f *fixture) {
				passthrough.NewCluster(f.stack, jsii.String("Small"), &passthrough.ClusterProps{
					Vpc: f.cluster.Vpc,
					EC2: &passthrough.EC2CapacityProps{MinCapacity: jsii.Number(5), MaxCapacity: jsii.Number(3)},
				})
			},
			want: "passthrough: Test/Small: EC2.MaxCapacity 3: is below EC2.MinCapacity 5",
		},
		{
			name: "existing cluster together with a VPC",
			build: func(f *fixture) {
				passthrough.NewCluster(f.stack, jsii.String("Both"), &passthrough.ClusterProps{Vpc: f.cluster.Vpc, Cluster: f.cluster.ECS})
			},
			want: "passthrough: Test/Both: Vpc: cannot be set together with Cluster: the VPC is the existing cluster's",
		},
		{
			name: "more listeners than an NLB allows",
			build: func(f *fixture) {
				for i := range passthrough.MaxListeners + 1 {
					f.fargate(fmt.Sprintf("S%d", i), float64(1000+i))
				}
			},
			want: "passthrough: Test/S50: ListenerPort 1050: would be listener 51 on load balancer Test/LB, over the quota of 50 listeners per Network Load Balancer",
		},
		{
			name: "more inbound rules than a security group allows",
			build: func(f *fixture) {
				var peers []awsec2.IPeer
				for i := range 21 {
					peers = append(peers, awsec2.Peer_Ipv4(jsii.String(fmt.Sprintf("198.51.100.%d/32", i))))
				}
				f.lb = passthrough.NewLoadBalancer(f.stack, jsii.String("Partners"), &passthrough.LoadBalancerProps{Vpc: f.cluster.Vpc, AllowedClients: peers})
				for i := range 3 {
					f.fargate(fmt.Sprintf("S%d", i), float64(1000+i))
				}
			},
			want: "passthrough: Test/S2: ListenerPort 1002: would bring the security group of load balancer Test/Partners to 64 inbound rules (21 allowed clients per listener), over the default quota of 60",
		},
	}
	runInvalid(t, cases)
}

// Values only known at deploy time, such as CloudFormation parameters, pass
// validation unchanged.
func TestTokensAreNotRejected(t *testing.T) {
	f := newFixture(t, false)
	listener := awscdk.NewCfnParameter(f.stack, jsii.String("ListenerPort"), &awscdk.CfnParameterProps{Type: jsii.String("Number"), Default: 443})
	container := awscdk.NewCfnParameter(f.stack, jsii.String("ContainerPort"), &awscdk.CfnParameterProps{Type: jsii.String("Number"), Default: 8443})
	delay := awscdk.NewCfnParameter(f.stack, jsii.String("Delay"), &awscdk.CfnParameterProps{Type: jsii.String("Number"), Default: 120})
	p := f.service(0)
	p.ListenerPort = listener.ValueAsNumber()
	p.ContainerPort = container.ValueAsNumber()
	p.DeregistrationDelay = awscdk.Duration_Seconds(delay.ValueAsNumber())
	newFargate(f, "Api", p, 256, 512)

	tpl := f.template(t)
	tpl.Has(typeListener, map[string]any{"Port": ref("ListenerPort")})
	tpl.Has(typeService, map[string]any{"LoadBalancers": []any{assertions.Match_ObjectLike(&map[string]any{"ContainerPort": ref("ContainerPort")})}})
}

// The message a user sees first is the validation message, not a jsii or Go
// stack trace.
func TestValidationErrorIsOneLine(t *testing.T) {
	f := newFixture(t, false)
	err := cdktest.Invalid(t, func() { f.fargate("Api", 0) })
	if msg := err.Error(); strings.Contains(msg, "\n") {
		t.Errorf("message spans several lines: %q", msg)
	}
	if err.Path != "Test/Api" || err.Prop != "ListenerPort" || err.Value != "0" {
		t.Errorf("fields = %+v, want path Test/Api, prop ListenerPort, value 0", err)
	}
}

// An existing cluster must expose its instance security group for EC2
// services; one imported without it is reported, not silently unreachable.
func TestExistingClusterWithoutSecurityGroupIsReported(t *testing.T) {
	f := newFixture(t, false)
	imported := awsecs.Cluster_FromClusterAttributes(f.stack, jsii.String("Imported"), &awsecs.ClusterAttributes{
		ClusterName: jsii.String("shared"),
		Vpc:         f.cluster.Vpc,
	})
	cluster := passthrough.NewCluster(f.stack, jsii.String("Shared"), &passthrough.ClusterProps{Cluster: imported})
	p := f.service(443)
	p.Cluster = cluster
	err := cdktest.Invalid(t, func() {
		passthrough.NewEC2Service(f.stack, jsii.String("Api"), &passthrough.EC2ServiceProps{ServiceProps: p})
	})
	want := "passthrough: Test/Api: Cluster Test/Shared: is an existing cluster with 0 instance security groups; import it with exactly one (awsecs.ClusterAttributes.SecurityGroups) so that EC2 services can admit the load balancer on the dynamic port range"
	if err.Error() != want {
		t.Errorf("error mismatch\ngot:  %s\nwant: %s", err, want)
	}
}
