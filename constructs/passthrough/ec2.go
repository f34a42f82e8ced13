package passthrough

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	elbv2 "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// EC2ServiceProps configures a [Service] on the EC2 instances of a cluster.
type EC2ServiceProps struct {
	ServiceProps
	// CPU units reserved for the container (1024 is one vCPU).
	// Default: 256.
	CPU *float64
	// MemoryLimitMiB is the container's hard memory limit.
	// Default: 512.
	MemoryLimitMiB *float64
	// MemoryReservationMiB is the soft limit the scheduler places tasks by.
	// Default: none; MemoryLimitMiB is reserved.
	MemoryReservationMiB *float64
	// PlacementStrategies of the service's tasks.
	// Default: spread across Availability Zones, then across instances.
	PlacementStrategies []awsecs.PlacementStrategy
}

// NewEC2Service creates an EC2 service in bridge network mode with host port
// 0: each task gets a dynamic host port, and the instance is registered as an
// instance target on that port. The instances' security group admits the
// load balancer on the cluster's whole dynamic host port range
// (EC2CapacityProps.HostPortRange, or ClusterProps.HostPortRange for an
// existing cluster), because the port of a task is only known when it
// starts.
func NewEC2Service(scope constructs.Construct, id *string, props *EC2ServiceProps) *Service {
	s := newService(scope, id)
	if props == nil {
		props = &EC2ServiceProps{}
	}
	v := &validator{scope: s}
	if props.DeploymentStrategy == awsecs.DeploymentStrategy_BLUE_GREEN {
		// "Target type: ip (for Fargate or EC2 with awsvpc network mode)",
		// Amazon ECS developer guide, Network Load Balancer resources for
		// blue/green deployments.
		v.fail("DeploymentStrategy", "BLUE_GREEN", "needs ip targets, and EC2 services run in bridge mode with instance targets, which ECS blue/green deployments behind a Network Load Balancer do not support; use a Fargate service, or ROLLING")
	}
	props.ServiceProps.validate(v)
	v.intRange("CPU", props.CPU, 0, 10240*4)
	v.intRange("MemoryLimitMiB", props.MemoryLimitMiB, 6, 1<<24)
	v.intRange("MemoryReservationMiB", props.MemoryReservationMiB, 6, 1<<24)
	if props.MemoryLimitMiB != nil && props.MemoryReservationMiB != nil && *props.MemoryReservationMiB > *props.MemoryLimitMiB {
		v.failf("MemoryReservationMiB", formatNumber(*props.MemoryReservationMiB), "is above MemoryLimitMiB %s", formatNumber(*props.MemoryLimitMiB))
	}
	var instances awsec2.ISecurityGroup
	if v.err == nil {
		instances = props.Cluster.instanceSecurityGroup(v)
	}
	v.check()
	r := props.ServiceProps.resolve(s)
	limits := containerLimits{
		cpu:               pointerOr(props.CPU, defaultCPU),
		memoryLimit:       pointerOr(props.MemoryLimitMiB, defaultMemoryLimit),
		memoryReservation: props.MemoryReservationMiB,
	}
	placement := props.PlacementStrategies
	if placement == nil {
		placement = []awsecs.PlacementStrategy{
			awsecs.PlacementStrategy_SpreadAcross(jsii.String(*awsecs.BuiltInAttributes_AVAILABILITY_ZONE())),
			awsecs.PlacementStrategy_SpreadAcrossInstances(),
		}
	}

	td := awsecs.NewEc2TaskDefinition(s, jsii.String("TaskDefinition"), &awsecs.Ec2TaskDefinitionProps{
		NetworkMode: awsecs.NetworkMode_BRIDGE,
	})
	s.addContainer(td, r, jsii.Number(0), limits)
	var strategies *[]*awsecs.CapacityProviderStrategy
	if name := r.cluster.capacityProviderName; name != nil {
		strategies = &[]*awsecs.CapacityProviderStrategy{{CapacityProvider: name, Weight: jsii.Number(1)}}
	}
	svc := awsecs.NewEc2Service(s, jsii.String("Service"), &awsecs.Ec2ServiceProps{
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
		PlacementStrategies:        &placement,
		CapacityProviderStrategies: strategies,
	})
	if strategies != nil {
		r.cluster.orderCapacityProviders(svc)
	}
	r.cluster.orderServiceAfterEgress(svc)
	hostPorts := r.cluster.hostPorts
	s.attach(svc, r, elbv2.TargetType_INSTANCE, instances,
		awsec2.Port_TcpRange(jsii.Number(hostPorts.Low), jsii.Number(hostPorts.High)))
	return s
}
