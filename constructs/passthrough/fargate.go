package passthrough

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	elbv2 "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// FargateServiceProps configures a [Service] on Fargate.
type FargateServiceProps struct {
	ServiceProps
	// CPU units of the task (256 is a quarter vCPU). With MemoryLimitMiB it
	// must be a combination that Fargate offers.
	// Default: 256.
	CPU *float64
	// MemoryLimitMiB of the task, and the hard memory limit of its TLS
	// container. The container cannot use more than its task in any case;
	// stating the limit on the container is what AWS Control Tower's
	// CT.ECS.PR.7 and cdk-nag check. ECS counts a container's hard limit as
	// its reservation when it has none, and a task's containers may reserve
	// at most the task's memory ("The resource limits must be greater than
	// or equal to any reservations that you declared", Amazon ECS developer
	// guide, choosing Fargate task sizes): a sidecar added to TaskDefinition
	// needs a larger task.
	// Default: 512.
	MemoryLimitMiB *float64
	// VpcSubnets to run tasks in. Tasks never get a public IP address: they
	// are reached through the load balancer only.
	// Default: the VPC's private subnets with egress, or its isolated subnets
	// if it has none (a VPC without NAT gateways, with VPC endpoints).
	VpcSubnets *awsec2.SubnetSelection
	// PlatformVersion of Fargate.
	// Default: LATEST.
	PlatformVersion awsecs.FargatePlatformVersion
	// ARM64 runs the tasks on Graviton (Linux/ARM64), about 20 % cheaper per
	// vCPU-hour than X86_64. The image must be built for it: pin the platform
	// of an image asset (awsecrassets.Platform_LINUX_ARM64), or the task
	// starts and fails with an exec format error.
	// Default: false (X86_64).
	ARM64 *bool
	// Spot runs the tasks above an on-demand base of DesiredCount tasks on
	// Fargate Spot, at a discount, with a two-minute warning before AWS
	// reclaims one: the base keeps the service's floor on capacity that is
	// not reclaimed, and three Spot tasks are placed for each further
	// on-demand one. It combines with ARM64 (docs/production.md, "Cost and
	// platform notes"). An existing cluster must have FARGATE and FARGATE_SPOT
	// associated for as long as the service exists. Turning it on or off
	// replaces the ECS service (its LaunchType goes or comes): new tasks
	// start beside the old ones in the same target group.
	// Default: false.
	Spot *bool
}

// fargateMemory lists, per CPU value, the memory sizes (MiB) Fargate offers.
var fargateMemory = map[float64]func(m float64) bool{
	256:   func(m float64) bool { return m == 512 || m == 1024 || m == 2048 },
	512:   func(m float64) bool { return m >= 1024 && m <= 4096 && int(m)%1024 == 0 },
	1024:  func(m float64) bool { return m >= 2048 && m <= 8192 && int(m)%1024 == 0 },
	2048:  func(m float64) bool { return m >= 4096 && m <= 16384 && int(m)%1024 == 0 },
	4096:  func(m float64) bool { return m >= 8192 && m <= 30720 && int(m)%1024 == 0 },
	8192:  func(m float64) bool { return m >= 16384 && m <= 61440 && int(m)%4096 == 0 },
	16384: func(m float64) bool { return m >= 32768 && m <= 122880 && int(m)%8192 == 0 },
}

// NewFargateService creates a Fargate service in awsvpc network mode whose
// tasks are registered as ip targets on the container port, behind a TCP
// listener of props.LoadBalancer.
func NewFargateService(scope constructs.Construct, id *string, props *FargateServiceProps) *Service {
	s := newService(scope, id)
	if props == nil {
		props = &FargateServiceProps{}
	}
	v := &validator{scope: s}
	props.ServiceProps.validate(v)
	cpu := valueOr(props.CPU, defaultCPU)
	memory := valueOr(props.MemoryLimitMiB, defaultMemoryLimit)
	if fits, known := fargateMemory[cpu]; !known && !isToken(cpu) {
		v.failf("CPU", formatNumber(cpu), "is not a Fargate task size; use 256, 512, 1024, 2048, 4096, 8192 or 16384")
	} else if known && !fits(memory) && !isToken(memory) {
		v.failf("MemoryLimitMiB", formatNumber(memory), "is not offered by Fargate with CPU %s (see the task size table in the Amazon ECS developer guide)", formatNumber(cpu))
	}
	v.check()
	r := props.ServiceProps.resolve(s)
	if r.blueGreen != nil {
		r.blueGreen.subnets = props.VpcSubnets
	}
	spot := valueOr(props.Spot, false)
	arm := valueOr(props.ARM64, false)
	subnets, platformVersion := props.VpcSubnets, props.PlatformVersion

	var platform *awsecs.RuntimePlatform
	if arm {
		platform = &awsecs.RuntimePlatform{
			CpuArchitecture:       awsecs.CpuArchitecture_ARM64(),
			OperatingSystemFamily: awsecs.OperatingSystemFamily_LINUX(),
		}
	}
	td := awsecs.NewFargateTaskDefinition(s, jsii.String("TaskDefinition"), &awsecs.FargateTaskDefinitionProps{
		Cpu:             jsii.Number(cpu),
		MemoryLimitMiB:  jsii.Number(memory),
		RuntimePlatform: platform,
	})
	s.addContainer(td, r, r.containerPort, containerLimits{memoryLimit: jsii.Number(memory)})

	// Egress is what the task itself needs: HTTPS to ECR, Secrets Manager and
	// CloudWatch Logs. Connections a service makes to other services are
	// added where they are granted. The description names no port: it can
	// only be set at creation (GroupDescription requires replacement), and
	// a new ContainerPort must not replace the group.
	sg := awsec2.NewSecurityGroup(s, jsii.String("SecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:              r.cluster.Vpc,
		Description:      jsii.String("Passthrough Fargate tasks: TLS from the load balancer only"),
		AllowAllOutbound: jsii.Bool(false),
	})
	sg.AddEgressRule(anyIPv4(), tcpPort(443), jsii.String("HTTPS to AWS APIs and image registries"), nil)
	r.cluster.admitToEndpoints(s, sg)

	var strategies *[]*awsecs.CapacityProviderStrategy
	if spot {
		strategies = &[]*awsecs.CapacityProviderStrategy{
			{CapacityProvider: jsii.String("FARGATE"), Base: r.tasks, Weight: jsii.Number(1)},
			{CapacityProvider: jsii.String("FARGATE_SPOT"), Weight: jsii.Number(3)},
		}
	}
	svc := awsecs.NewFargateService(s, jsii.String("Service"), &awsecs.FargateServiceProps{
		Cluster:                    r.cluster.ECS,
		TaskDefinition:             td,
		DesiredCount:               r.desiredCount,
		MinHealthyPercent:          r.minHealthyPercent,
		MaxHealthyPercent:          r.maxHealthyPercent,
		CircuitBreaker:             r.circuitBreaker,
		HealthCheckGracePeriod:     r.healthCheckGracePeriod,
		ServiceName:                r.serviceName,
		EnableECSManagedTags:       jsii.Bool(true),
		PropagateTags:              awsecs.PropagatedTagSource_SERVICE,
		AssignPublicIp:             jsii.Bool(false),
		VpcSubnets:                 subnets,
		CapacityProviderStrategies: strategies,
		SecurityGroups:             &[]awsec2.ISecurityGroup{sg},
		PlatformVersion:            platformVersion,
		DeploymentStrategy:         r.deploymentStrategy(),
		BakeTime:                   r.bakeTime(),
	})
	if strategies != nil {
		r.cluster.orderCapacityProviders(svc)
	}
	r.cluster.orderServiceAfterEgress(svc)
	s.attach(svc, r, elbv2.TargetType_IP, sg, tcpPort(*r.containerPort))
	return s
}
