package passthrough

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// DynamicPortLow and DynamicPortHigh bound the host ports that the ECS
// agent of the cluster's instances hands out to bridge-mode tasks (host port
// 0), which EC2 services open to the load balancer. The cluster writes the
// range into the agent's configuration, so that the rules cannot drift from
// the ports. It lies below the kernel's ephemeral range (32768-60999 on
// Amazon Linux 2023), where the agent's choice of a port can race the
// instance's outbound connections (docs/network.md, "Dynamic host ports").
const (
	DynamicPortLow  = 30000
	DynamicPortHigh = 32767
)

// PortRange is an inclusive range of TCP ports.
type PortRange struct {
	// Low is the first port of the range.
	Low float64
	// High is the last port of the range.
	High float64
}

// validate reports a range that is not 1 <= Low <= High <= 65535.
func (r *PortRange) validate(v *validator, prop string) {
	if r == nil {
		return
	}
	v.intRange(prop+".Low", &r.Low, 1, 65535)
	v.intRange(prop+".High", &r.High, 1, 65535)
	if r.Low > r.High {
		v.failf(prop, fmt.Sprintf("%s-%s", formatNumber(r.Low), formatNumber(r.High)), "starts above its end")
	}
}

// Defaults of EC2CapacityProps (and defaultInstanceType in instances.go),
// and the container instances' root volume.
const (
	defaultMinInstances, defaultMaxInstances = 2, 6
	defaultTargetCapacityPercent             = 100
	rootVolumeGiB                            = 30
)

// EC2CapacityProps configures the Auto Scaling group that runs the tasks of
// EC2 services.
type EC2CapacityProps struct {
	// InstanceType of the container instances.
	// Default: t3.medium; under NewStrictCompliance, c6a.large with
	// c6i.large as fallback (see FallbackInstanceTypes).
	InstanceType awsec2.InstanceType
	// FallbackInstanceTypes are launched, in this order, when InstanceType
	// has no capacity: the Auto Scaling group then has a mixed instances
	// policy whose On-Demand allocation strategy is "prioritized", so it
	// launches InstanceType whenever it can. Each must have InstanceType's
	// architecture (the instances run one image), and should have its vCPUs
	// and memory: ECS managed scaling sizes the group from the smallest and
	// largest types in it (Amazon ECS developer guide, managed scaling
	// behavior). AWS Control Tower's CT.AUTOSCALING.PR.6 asks for a second
	// type, and its CT.AUTOSCALING.PR.11 then for Nitro types that encrypt
	// the traffic between instances (m6i, m6a, c7g, ...; not t3, t3a or
	// t4g); NewStrictCompliance adds the other family of the same size for
	// the common pairs (m6i and m6a, c7g and c7gd, ...) when this is empty.
	// Default: none; InstanceType only.
	FallbackInstanceTypes []awsec2.InstanceType
	// MachineImage of the container instances. It must run the ECS agent,
	// and takes HostPortRange with it.
	// Default: the ECS-optimized Amazon Linux 2023 AMI for the instance type's
	// architecture.
	MachineImage awsec2.IMachineImage
	// HostPortRange is the range the ECS agent hands out dynamic host ports
	// from, which the instances' security group opens to the load balancer.
	// The cluster writes it to /etc/ecs/ecs.config as
	// ECS_DYNAMIC_HOST_PORT_RANGE, which the ECS-optimized Amazon Linux AMIs
	// read; it is required with MachineImage, whose agent must be configured
	// with it (docs/network.md, "Dynamic host ports").
	// Default: DynamicPortLow-DynamicPortHigh (30000-32767).
	HostPortRange *PortRange
	// MinCapacity is the smallest number of instances. Two keeps one instance
	// in each of two Availability Zones, so the default two tasks of a service
	// never share a zone.
	// Default: 2.
	MinCapacity *float64
	// MaxCapacity is the largest number of instances that managed scaling may
	// launch.
	// Default: 6.
	MaxCapacity *float64
	// TargetCapacityPercent is the instance utilization that managed scaling
	// aims for. Below 100 keeps spare instances so that tasks of a rolling
	// deployment (maximum 200 %) are placed without waiting for a launch.
	// Default: 100.
	TargetCapacityPercent *float64
	// NotificationTopic receives the Auto Scaling group's launch, terminate
	// and failure notifications. Its policy, and its KMS key's when the key
	// is defined in the app, are extended to admit Auto Scaling.
	// Default: none; capacity changes show in ECS service events and the
	// group's activity history.
	NotificationTopic awssns.ITopic
	// ManagedTerminationProtection protects instances that run tasks from
	// scale-in, as Security Hub control ECS.19 asks. Off because it can hang
	// the deletion of the stack, and managed draining (always on) already
	// moves tasks off an instance before it is terminated.
	// Default: false.
	ManagedTerminationProtection *bool
}

// ClusterProps configures a [Cluster].
type ClusterProps struct {
	// Vpc to run the cluster in.
	// Default: a new VPC over two Availability Zones, with public subnets for
	// the load balancer, private subnets for tasks, one NAT gateway and flow
	// logs to CloudWatch Logs (NLB access logs cover only TLS listeners, so
	// flow logs are the traffic record of a passthrough load balancer).
	Vpc awsec2.IVpc
	// Cluster is an existing ECS cluster to run services on instead of a new
	// one. Its Vpc must be set, and for EC2 services its instances' security
	// groups must be known to it (cluster.Connections()), because the
	// services add their ingress rules there.
	// Default: a new cluster.
	Cluster awsecs.ICluster
	// HostPortRange of an existing cluster: the range its container
	// instances' ECS agent hands out dynamic host ports from
	// (ECS_DYNAMIC_HOST_PORT_RANGE in /etc/ecs/ecs.config, or the kernel's
	// ip_local_port_range when unset: 32768-60999 on Amazon Linux). EC2
	// services open exactly this range to the load balancer, so they require
	// it: a range that differs from the agent's leaves tasks unreachable, or
	// opens ports no task uses. Only with Cluster.
	// Default: none; EC2 services on an existing cluster are refused.
	HostPortRange *PortRange
	// CapacityProviderName of an existing cluster's EC2 capacity provider, used
	// by EC2 services in their capacity provider strategy. Only with Cluster.
	// The provider must be associated with the cluster before a service that
	// uses it is created, and stay associated until the service is deleted:
	// for a cluster imported from outside the app, Passthrough cannot order
	// that.
	// Default: EC2 services on an existing cluster use the EC2 launch type.
	CapacityProviderName *string
	// EC2 adds an Auto Scaling group of container instances, with a capacity
	// provider that scales it for the tasks of EC2 services.
	// Default: none; the cluster runs Fargate services only.
	EC2 *EC2CapacityProps
	// NatGateways of a new VPC. One is the cheap default; one per
	// Availability Zone (2) keeps tasks' egress up when a zone fails. Zero
	// requires VpcEndpoints: tasks then run in isolated subnets and reach
	// AWS only through the endpoints.
	// Default: 1.
	NatGateways *float64
	// DualStack gives a new VPC IPv6 as well as IPv4 (an Amazon-provided
	// /56, a /64 per subnet, an egress-only internet gateway for the private
	// subnets), so that a LoadBalancer with DualStack can serve IPv6 clients.
	// Default: false.
	DualStack *bool
	// VpcEndpoints adds, to a new VPC, interface endpoints for ECR (API and
	// Docker registry), CloudWatch Logs and Secrets Manager, the ECS
	// endpoints the container agent needs with EC2 capacity, and the S3
	// gateway endpoint for image layers, so that tasks run without internet
	// access. Each interface endpoint costs per hour and Availability Zone.
	// Default: false.
	VpcEndpoints *bool
	// ContainerInsights sets CloudWatch Container Insights on a new cluster.
	// Default: awsecs.ContainerInsights_ENABLED.
	ContainerInsights awsecs.ContainerInsights
}

// Cluster is an ECS cluster for passthrough services, on Fargate or on EC2
// instances whose tasks use bridge networking with dynamic host ports.
type Cluster struct {
	constructs.Construct
	// ECS is the ECS cluster.
	ECS awsecs.ICluster
	// Vpc is the cluster's VPC.
	Vpc awsec2.IVpc
	// AutoScalingGroup of the container instances; nil without EC2 capacity.
	AutoScalingGroup awsautoscaling.AutoScalingGroup
	// CapacityProvider that places EC2 services' tasks; nil without EC2
	// capacity.
	CapacityProvider awsecs.AsgCapacityProvider
	// InstanceSecurityGroup of the container instances; nil without EC2
	// capacity. EC2 services add their ingress rules to it.
	InstanceSecurityGroup awsec2.ISecurityGroup
	// EndpointSecurityGroup of the VPC interface endpoints; nil without
	// VpcEndpoints. It admits HTTPS from the cluster's instances and from
	// each Fargate service's tasks, and nothing else.
	EndpointSecurityGroup awsec2.SecurityGroup

	capacityProviderName *string
	hasEC2               bool
	// launchTemplate and instanceTypes (InstanceType first, then the
	// fallbacks) of the EC2 capacity; nil without it. defaultInstanceType
	// tells that EC2CapacityProps.InstanceType was not set.
	launchTemplate      awsec2.LaunchTemplate
	instanceTypes       []awsec2.InstanceType
	defaultInstanceType bool
	// hostPorts is the range EC2 services open to the load balancer; nil
	// for an existing cluster that was given none.
	hostPorts *PortRange
	// egress is how the cluster's tasks and instances reach AWS: the VPC
	// endpoints it created and the NAT routes of its VPC (see
	// orderAfterEgress).
	egress []constructs.IDependable
}

// NewCluster creates the VPC (unless given), the ECS cluster and, with
// props.EC2, its EC2 capacity.
func NewCluster(scope constructs.Construct, id *string, props *ClusterProps) *Cluster {
	c := &Cluster{}
	constructs.NewConstruct_Override(c, scope, id)
	if props == nil {
		props = &ClusterProps{}
	}

	v := &validator{scope: c}
	if props.Cluster != nil {
		if props.Vpc != nil {
			v.fail("Vpc", "", "cannot be set together with Cluster: the VPC is the existing cluster's")
		}
		if props.EC2 != nil {
			v.fail("EC2", "", "cannot be set together with Cluster: add capacity to the existing cluster where it is defined, and pass its CapacityProviderName")
		}
		if props.NatGateways != nil || props.VpcEndpoints != nil || props.DualStack != nil {
			v.fail("NatGateways", "", "VpcEndpoints and DualStack shape a new VPC and cannot be set together with Cluster")
		}
	} else if props.CapacityProviderName != nil {
		v.fail("CapacityProviderName", *props.CapacityProviderName, "is only for an existing Cluster; a new cluster creates its own capacity provider from EC2")
	} else if props.HostPortRange != nil {
		v.fail("HostPortRange", "", "is only for an existing Cluster; new EC2 capacity takes EC2.HostPortRange")
	}
	props.HostPortRange.validate(v, "HostPortRange")
	if props.Vpc != nil && (props.NatGateways != nil || props.VpcEndpoints != nil || props.DualStack != nil) {
		v.fail("NatGateways", "", "VpcEndpoints and DualStack shape a new VPC; they cannot be set together with Vpc")
	}
	v.intRange("NatGateways", props.NatGateways, 0, 2)
	endpoints := props.VpcEndpoints != nil && *props.VpcEndpoints
	if props.NatGateways != nil && *props.NatGateways == 0 && !endpoints {
		v.fail("NatGateways", "0", "leaves tasks no way to pull images, read secrets or write logs; set VpcEndpoints too")
	}
	if e := props.EC2; e != nil {
		v.intRange("EC2.MinCapacity", e.MinCapacity, 0, 10000)
		v.intRange("EC2.MaxCapacity", e.MaxCapacity, 1, 10000)
		v.intRange("EC2.TargetCapacityPercent", e.TargetCapacityPercent, 1, 100)
		if lo, hi := valueOr(e.MinCapacity, defaultMinInstances), valueOr(e.MaxCapacity, defaultMaxInstances); lo > hi && !isToken(lo) && !isToken(hi) {
			v.failf("EC2.MaxCapacity", formatNumber(hi), "is below EC2.MinCapacity %s", formatNumber(lo))
		}
		if e.MachineImage != nil && e.HostPortRange == nil {
			v.fail("EC2.HostPortRange", "", "is required with EC2.MachineImage: the cluster writes the range to /etc/ecs/ecs.config, which only the ECS-optimized Amazon Linux AMIs are known to read; state the range the image's ECS agent hands out (ECS_DYNAMIC_HOST_PORT_RANGE), so that the security group opens exactly it")
		}
		e.HostPortRange.validate(v, "EC2.HostPortRange")
		e.validateFallbacks(v)
	}
	v.check()

	if props.Cluster != nil {
		c.ECS = props.Cluster
		c.Vpc = props.Cluster.Vpc()
		c.capacityProviderName = props.CapacityProviderName
		c.hasEC2 = true // an existing cluster may have instances; EC2 services check its security groups
		c.hostPorts = props.HostPortRange
		return c
	}

	c.Vpc = props.Vpc
	if c.Vpc == nil {
		vpc := newVpc(c, valueOr(props.NatGateways, 1), props.DualStack != nil && *props.DualStack)
		if endpoints {
			c.EndpointSecurityGroup, c.egress = addVpcEndpoints(c, vpc, props.EC2 != nil)
		}
		c.Vpc = vpc
	}
	c.egress = append(c.egress, natRoutes(c.Vpc)...)
	insights := props.ContainerInsights
	if insights == "" {
		insights = awsecs.ContainerInsights_ENABLED
	}
	cluster := awsecs.NewCluster(c, jsii.String("Cluster"), &awsecs.ClusterProps{
		Vpc:                 c.Vpc,
		ContainerInsightsV2: insights,
		// FARGATE and FARGATE_SPOT, for Fargate services that use Spot.
		EnableFargateCapacityProviders: jsii.Bool(true),
	})
	c.ECS = cluster
	if props.EC2 != nil {
		c.addEC2Capacity(cluster, props.EC2)
	}
	return c
}

// orderCapacityProviders makes svc, which places its tasks with a capacity
// provider strategy, depend on the cluster's capacity provider
// associations (AWS::ECS::ClusterCapacityProviderAssociations). A strategy
// may only name capacity providers "that are already associated with a
// cluster" (Amazon ECS API reference, CapacityProviderStrategyItem), and on
// delete the association must outlive the service, or removing it fails
// while tasks still drain ("The specified capacity provider is in use and
// cannot be removed"; aws/containers-roadmap#631, aws/aws-cdk#15366,
// aws/aws-cdk#18179). aws-cdk-lib creates the association from an aspect at
// synthesis, as a child of the ECS cluster construct, and adds no such
// dependency; a dependency on the cluster construct reaches it. For a
// cluster in another stack it becomes a dependency between the stacks, in
// the direction the service's reference to the cluster already takes; an
// imported cluster has no resource to depend on, and its owner must keep
// the capacity providers associated (see the README). The dependency is the
// CloudFormation service's alone, not that of the scaling resources beneath
// the service construct.
func (c *Cluster) orderCapacityProviders(svc awsecs.BaseService) {
	svc.Node().DefaultChild().Node().AddDependency(c.ECS)
}

// instanceSecurityGroup is the group that EC2 services open their dynamic
// port range in: the cluster's own instance group, or for an existing
// cluster the one group it knows its instances by.
func (c *Cluster) instanceSecurityGroup(v *validator) awsec2.ISecurityGroup {
	if c.InstanceSecurityGroup != nil {
		return c.InstanceSecurityGroup
	}
	if !c.hasEC2 {
		v.failf("Cluster", *c.Node().Path(), "has no EC2 capacity; create it with ClusterProps.EC2, or use NewFargateService")
		return nil
	}
	groups := *c.ECS.Connections().SecurityGroups()
	if len(groups) != 1 {
		v.failf("Cluster", *c.Node().Path(), "is an existing cluster with %d instance security groups; import it with exactly one (awsecs.ClusterAttributes.SecurityGroups) so that EC2 services can admit the load balancer on the dynamic port range", len(groups))
		return nil
	}
	if c.hostPorts == nil {
		v.failf("Cluster", *c.Node().Path(), "is an existing cluster whose dynamic host port range is not known; set ClusterProps.HostPortRange to the range its instances' ECS agent hands out (ECS_DYNAMIC_HOST_PORT_RANGE, or the kernel's ip_local_port_range when unset: 32768-60999 on Amazon Linux), so that EC2 services open exactly it")
		return nil
	}
	return groups[0]
}

func (c *Cluster) addEC2Capacity(cluster awsecs.Cluster, props *EC2CapacityProps) {
	instanceType := props.InstanceType
	if instanceType == nil {
		instanceType = awsec2.NewInstanceType(jsii.String(defaultInstanceType))
	}
	image := props.MachineImage
	if image == nil {
		hw := awsecs.AmiHardwareType_STANDARD
		if instanceType.Architecture() == awsec2.InstanceArchitecture_ARM_64 {
			hw = awsecs.AmiHardwareType_ARM
		}
		image = awsecs.EcsOptimizedImage_AmazonLinux2023(hw, nil)
	}

	// Container instances reach AWS APIs (ECS, ECR, S3 for image layers,
	// CloudWatch Logs, Secrets Manager) over HTTPS only; the Amazon DNS server
	// and the instance metadata service are not filtered by security groups.
	sg := awsec2.NewSecurityGroup(c, jsii.String("InstanceSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:              c.Vpc,
		Description:      jsii.String("ECS container instances: ingress only from passthrough load balancers"),
		AllowAllOutbound: jsii.Bool(false),
	})
	sg.AddEgressRule(anyIPv4(), tcpPort(443), jsii.String("HTTPS to AWS APIs and image registries"), nil)

	userData := awsec2.UserData_ForLinux(nil)
	role := awsiam.NewRole(c, jsii.String("InstanceRole"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("ec2.amazonaws.com"), nil),
	})
	launchTemplate := awsec2.NewLaunchTemplate(c, jsii.String("LaunchTemplate"), &awsec2.LaunchTemplateProps{
		InstanceType:  instanceType,
		MachineImage:  image,
		UserData:      userData,
		SecurityGroup: sg,
		// IMDSv2 only, and a hop limit of 1 so that containers in bridge mode
		// cannot reach the instance role's credentials through the metadata
		// service: tasks get their own role from the ECS agent instead.
		RequireImdsv2:           jsii.Bool(true),
		HttpPutResponseHopLimit: jsii.Number(1),
		// One-minute instance metrics: AWS Control Tower's CT.EC2.PR.10
		// requires them of a launch template, and managed scaling reacts
		// within minutes. Billed per instance as CloudWatch metrics (Amazon
		// EC2 user guide, "Enable or turn off detailed monitoring").
		DetailedMonitoring: jsii.Bool(true),
		Role:               role,
		BlockDevices: &[]*awsec2.BlockDevice{{
			DeviceName: jsii.String("/dev/xvda"),
			Volume: awsec2.BlockDeviceVolume_Ebs(jsii.Number(rootVolumeGiB), &awsec2.EbsDeviceOptions{
				Encrypted:  jsii.Bool(true),
				VolumeType: awsec2.EbsDeviceVolumeType_GP3,
			}),
		}},
	})

	var notifications *[]*awsautoscaling.NotificationConfiguration
	if props.NotificationTopic != nil {
		notifications = &[]*awsautoscaling.NotificationConfiguration{{Topic: props.NotificationTopic}}
	}
	asg := awsautoscaling.NewAutoScalingGroup(c, jsii.String("AutoScalingGroup"), &awsautoscaling.AutoScalingGroupProps{
		Notifications:  notifications,
		Vpc:            c.Vpc,
		LaunchTemplate: launchTemplate,
		MinCapacity:    pointerOr(props.MinCapacity, defaultMinInstances),
		MaxCapacity:    pointerOr(props.MaxCapacity, defaultMaxInstances),
	})
	stateZones(asg, c.Vpc)
	if notifications != nil {
		admitAutoScaling(awscdk.Stack_Of(c), props.NotificationTopic)
	} else {
		suppressNag(asg, nagSuppression{
			id:     "AwsSolutions-AS3",
			reason: "The ECS capacity provider drives this group; its scaling shows in ECS service events and the group's activity history. Set EC2CapacityProps.NotificationTopic for notifications.",
		})
	}

	protect := props.ManagedTerminationProtection != nil && *props.ManagedTerminationProtection
	cp := awsecs.NewAsgCapacityProvider(c, jsii.String("CapacityProvider"), &awsecs.AsgCapacityProviderProps{
		AutoScalingGroup:                   asg,
		EnableManagedScaling:               jsii.Bool(true),
		EnableManagedDraining:              jsii.Bool(true),
		EnableManagedTerminationProtection: jsii.Bool(protect),
		TargetCapacityPercent:              pointerOr(props.TargetCapacityPercent, defaultTargetCapacityPercent),
	})
	// Registers the instances with the cluster (ECS_CLUSTER in the agent's
	// configuration) and adds their security group to cluster.Connections().
	cluster.AddAsgCapacityProvider(cp, nil)
	hostPorts := props.HostPortRange
	if hostPorts == nil {
		hostPorts = &PortRange{Low: DynamicPortLow, High: DynamicPortHigh}
	}
	userData.AddCommands(jsii.String(fmt.Sprintf("echo ECS_DYNAMIC_HOST_PORT_RANGE=%s-%s >> /etc/ecs/ecs.config", formatNumber(hostPorts.Low), formatNumber(hostPorts.High))))
	// The ECS agent's own permissions, written by aws-cdk-lib: scoped to the
	// cluster where ECS allows it.
	if policy := role.Node().TryFindChild(jsii.String("DefaultPolicy")); policy != nil {
		suppressNag(policy, nagSuppression{
			id:        "AwsSolutions-IAM5",
			reason:    "The ECS agent's permissions: ecs:Submit* is scoped to the cluster; ecs:DiscoverPollEndpoint, ecr:GetAuthorizationToken and the agent's log actions support no resource but *, and ecs:Poll and ecs:StartTelemetrySession are conditioned on the cluster",
			appliesTo: []string{"Action::ecs:Submit*", "Resource::*"},
		})
	}

	c.launchTemplate = launchTemplate
	c.instanceTypes = append([]awsec2.InstanceType{instanceType}, props.FallbackInstanceTypes...)
	c.defaultInstanceType = props.InstanceType == nil
	if len(props.FallbackInstanceTypes) > 0 {
		mixInstanceTypes(asg, launchTemplate, c.instanceTypes)
	}

	c.allowEndpoints(sg)
	c.orderAfterEgress(asg)
	c.AutoScalingGroup = asg
	c.CapacityProvider = cp
	c.InstanceSecurityGroup = sg
	c.capacityProviderName = cp.CapacityProviderName()
	c.hasEC2 = true
	c.hostPorts = hostPorts
}

// Connections of the cluster's container instances (empty on a Fargate-only
// cluster), so that a Cluster can be used wherever aws-cdk-go takes an
// awsec2.IConnectable.
func (c *Cluster) Connections() awsec2.Connections {
	return c.ECS.Connections()
}
