package passthrough_test

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
)

// Each case breaks one shared prop of a service and expects exactly one
// message that names the construct path and the bad value.
func TestServicePropsAreRefusedWithPathAndValue(t *testing.T) {
	runInvalid(t, []invalidCase{
		{"listener port zero", func(f *fixture) { f.fargate("Api", 0) }, "passthrough: Test/Api: ListenerPort 0: must be a whole number from 1 to 65535"},
		{"listener port above 65535", func(f *fixture) { f.fargate("Api", 70000) }, "passthrough: Test/Api: ListenerPort 70000: must be a whole number from 1 to 65535"},
		{"fractional listener port", func(f *fixture) { f.fargate("Api", 443.5) }, "passthrough: Test/Api: ListenerPort 443.5: must be a whole number from 1 to 65535"},
		{"container port negative", serviceWith(func(p *serviceProps) { p.ContainerPort = jsii.Number(-1) }), "passthrough: Test/Api: ContainerPort -1: must be a whole number from 1 to 65535"},
		{"container port above 65535 on EC2", ec2With(func(p *ec2Props) { p.ContainerPort = jsii.Number(65536) }), "passthrough: Test/Api: ContainerPort 65536: must be a whole number from 1 to 65535"},
		{"nil props", func(f *fixture) { passthrough.NewFargateService(f.stack, jsii.String("Api"), nil) }, "passthrough: Test/Api: Cluster: is required"},
		{"missing image", serviceWith(func(p *serviceProps) { p.Image = nil }), "passthrough: Test/Api: Image: is required"},
		{"invalid container name", serviceWith(func(p *serviceProps) { p.ContainerName = jsii.String("my app") }), `passthrough: Test/Api: ContainerName "my app": must be 1 to 255 letters, digits, hyphens or underscores`},
		{"empty container name", serviceWith(func(p *serviceProps) { p.ContainerName = jsii.String("") }), `passthrough: Test/Api: ContainerName "": must be 1 to 255 letters, digits, hyphens or underscores`},
		{"desired count zero", serviceWith(func(p *serviceProps) { p.DesiredCount = jsii.Number(0) }), "passthrough: Test/Api: DesiredCount 0: must be a whole number from 1 to 10000"},
		{"health check interval below the NLB minimum", serviceWith(func(p *serviceProps) { p.HealthCheckInterval = awscdk.Duration_Seconds(jsii.Number(1)) }), "passthrough: Test/Api: HealthCheckInterval 1s: must be a whole number of seconds from 5 to 300"},
		{"healthy threshold above 10", serviceWith(func(p *serviceProps) { p.HealthyThresholdCount = jsii.Number(11) }), "passthrough: Test/Api: HealthyThresholdCount 11: must be a whole number from 2 to 10"},
		{"unhealthy threshold of 1", serviceWith(func(p *serviceProps) { p.UnhealthyThresholdCount = jsii.Number(1) }), "passthrough: Test/Api: UnhealthyThresholdCount 1: must be a whole number from 2 to 10"},
		{"deregistration delay above one hour", serviceWith(func(p *serviceProps) { p.DeregistrationDelay = awscdk.Duration_Seconds(jsii.Number(4000)) }), "passthrough: Test/Api: DeregistrationDelay 4000s: must be a whole number of seconds from 0 to 3600"},
		{"stop timeout above ECS's 120 seconds", serviceWith(func(p *serviceProps) { p.StopTimeout = awscdk.Duration_Minutes(jsii.Number(3)) }), "passthrough: Test/Api: StopTimeout 180s: must be a whole number of seconds from 2 to 120"},
		{"minimum healthy percent above 100", serviceWith(func(p *serviceProps) { p.MinHealthyPercent = jsii.Number(150) }), "passthrough: Test/Api: MinHealthyPercent 150: must be a whole number from 0 to 100"},
		{"maximum percent below 100", serviceWith(func(p *serviceProps) { p.MaxHealthyPercent = jsii.Number(90) }), "passthrough: Test/Api: MaxHealthyPercent 90: must be a whole number from 100 to 200"},
		{"load balancer in another VPC", serviceWith(func(p *serviceProps) { p.LoadBalancer = otherVpcLoadBalancer(p.Cluster) }), "passthrough: Test/Api: LoadBalancer Test/OtherLB: is in another VPC than cluster Test/Cluster; an NLB can only reach targets in its own VPC"},
	})
}

// otherVpcLoadBalancer is a load balancer in a new VPC of the stack that
// cluster is in.
func otherVpcLoadBalancer(cluster *passthrough.Cluster) *passthrough.LoadBalancer {
	stack := awscdk.Stack_Of(cluster)
	other := awsec2.NewVpc(stack, jsii.String("OtherVpc"), nil)
	return passthrough.NewLoadBalancer(stack, jsii.String("OtherLB"), &passthrough.LoadBalancerProps{Vpc: other})
}
