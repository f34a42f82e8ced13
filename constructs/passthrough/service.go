package passthrough

import (
	"regexp"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	elbv2 "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Defaults shared by EC2 and Fargate services, in seconds for durations.
// Each is a field of [ServiceProps], whose doc comment gives the reason in
// one line; the README's "Defaults and why" has the rest.
const (
	DefaultListenerPort            = 443
	DefaultContainerPort           = 8443
	DefaultDesiredCount            = 2
	DefaultHealthCheckInterval     = 5
	DefaultHealthyThreshold        = 2
	DefaultUnhealthyThreshold      = 2
	DefaultHealthCheckTimeout      = 5
	DefaultDeregistrationDelay     = 120
	DefaultHealthCheckGracePeriod  = 60
	DefaultStopTimeout             = 30
	DefaultMinHealthyPercent       = 100
	DefaultMaxHealthyPercent       = 200
	DefaultContainerName           = "app"
	defaultLogRetention            = awslogs.RetentionDays_ONE_MONTH
	maxStopTimeout                 = 120
	maxDeregistrationDelay         = 3600
	minHealthCheckInterval         = 5
	maxHealthCheckInterval         = 300
	minThreshold, maxThreshold     = 2, 10
	maxHealthCheckGracePeriod      = 2147483647
	containerNamePattern           = `^[A-Za-z0-9_-]{1,255}$`
	defaultCPU, defaultMemoryLimit = 256, 512
	maxTasks                       = 10000
)

var containerName = regexp.MustCompile(containerNamePattern)

// ServiceProps are the props that EC2 and Fargate services share.
type ServiceProps struct {
	// Cluster to run the service in. Required.
	Cluster *Cluster
	// LoadBalancer whose TCP listener passes the service's TLS connections
	// through. It must be in the cluster's VPC. Required.
	LoadBalancer *LoadBalancer
	// Image of the container that terminates TLS. Required.
	Image awsecs.ContainerImage
	// ListenerPort clients connect to on the load balancer. Each service of a
	// load balancer needs its own.
	// Default: 443.
	ListenerPort *float64
	// ContainerPort the container listens on for TLS. Above 1023 by default,
	// so the container can run as a non-root user. A change rolls the tasks
	// and replaces neither the target group nor the security group: ECS
	// registers each task with its port.
	// Default: 8443.
	ContainerPort *float64
	// ContainerName of the TLS container.
	// Default: "app".
	ContainerName *string
	// DesiredCount of tasks. Two by default, so that the service survives the
	// loss of one task or one Availability Zone, and tasks are spread across
	// zones.
	// Default: 2.
	DesiredCount *float64
	// Certificate delivers the container's certificate, private key and
	// optional client CA bundle from Secrets Manager as the environment
	// variables TLS_CERT, TLS_KEY and TLS_CLIENT_CA, and lets the task's
	// execution role read exactly that secret.
	// Default: none; the image brings its own certificate.
	Certificate *Certificate
	// Environment variables of the container. Certificates and keys never
	// belong here (TLS_CERT, TLS_KEY and TLS_CLIENT_CA are refused): they
	// would be readable in the template and the task definition.
	// Default: none.
	Environment map[string]*string
	// Secrets exposed to the container as environment variables. ECS reads
	// them when a container starts, so a rotated secret reaches the service
	// only with its next deployment.
	// Default: none.
	Secrets map[string]awsecs.Secret
	// HealthCheckInterval between the load balancer's TCP health checks of a
	// target. The NLB minimum (aws-cdk-lib's patterns use 30 seconds), so
	// that a target leaves or joins rotation within about ten seconds.
	// Default: 5 seconds.
	HealthCheckInterval awscdk.Duration
	// HealthyThresholdCount is how many consecutive passed checks make a new
	// target healthy. The NLB minimum (aws-cdk-lib's patterns use 5), so that
	// a rolling deployment waits less for each new task.
	// Default: 2.
	HealthyThresholdCount *float64
	// UnhealthyThresholdCount is how many consecutive failed checks take a
	// target out of rotation.
	// Default: 2.
	UnhealthyThresholdCount *float64
	// DeregistrationDelay is how long a draining target keeps its
	// connections before ECS stops the task; ECS sends SIGTERM only after it.
	// Shorter than Elastic Load Balancing's 300 seconds, but not below the
	// two minutes in which an NLB still opens new connections to a draining
	// target (the README's "Defaults and why" cites the reports).
	// Default: 120 seconds.
	DeregistrationDelay awscdk.Duration
	// HealthCheckGracePeriod during which ECS ignores the load balancer's
	// health status of a new task. It covers the time an NLB takes to start
	// health checks on a newly registered target.
	// Default: 60 seconds.
	HealthCheckGracePeriod awscdk.Duration
	// StopTimeout is how long ECS waits after SIGTERM before it kills the
	// container, at most 120 seconds. SIGTERM comes after the deregistration
	// delay, so it only covers the connections still open then.
	// Default: 30 seconds.
	StopTimeout awscdk.Duration
	// MinHealthyPercent of DesiredCount that stays running during a
	// deployment. 100 (aws-cdk-lib's default is 50) so that a rollout never
	// lowers capacity: new tasks start before old ones drain.
	// Default: 100.
	MinHealthyPercent *float64
	// MaxHealthyPercent of DesiredCount that may run during a deployment.
	// Default: 200.
	MaxHealthyPercent *float64
	// CircuitBreaker stops a deployment whose tasks keep failing. On with
	// rollback by default (aws-cdk-lib leaves it off), so a broken image or
	// certificate rolls back to the last working deployment by itself.
	// Default: enabled, with rollback.
	CircuitBreaker *awsecs.DeploymentCircuitBreaker
	// ProxyProtocol turns on PROXY protocol v2 on the target group: the load
	// balancer prefixes every connection with a header that carries the
	// client's address, which the container otherwise never sees (client IP
	// preservation is off). The container must then require the header (the
	// example server: PROXY_PROTOCOL=v2).
	// Default: false.
	ProxyProtocol *bool
	// ContainerHealthCheck is a command ECS runs inside the container, and
	// replaces the task when it fails. The load balancer's TCP check passes
	// even with an expired certificate; a command that completes a TLS
	// handshake against the container's own port (the example server's
	// -healthcheck flag) does not (the README's "How TLS reaches the
	// container").
	// Default: none.
	ContainerHealthCheck *awsecs.HealthCheck
	// AutoScaling scales the task count on CPU and memory utilization.
	// Default: none; the service runs DesiredCount tasks.
	AutoScaling *AutoScalingProps
	// Alarms configures the service's CloudWatch alarms: healthy and
	// unhealthy targets, deployment rollback and, with a Certificate,
	// certificate expiry.
	// Default: all alarms on, with no notification topic.
	Alarms *AlarmProps
	// LogRetention of the container's CloudWatch Logs log group.
	// Default: one month.
	LogRetention awslogs.RetentionDays
	// ReadonlyRootFilesystem mounts the container's root file system read
	// only, so a compromised process cannot change the image's binaries or
	// certificates' trust stores.
	// Default: true.
	ReadonlyRootFilesystem *bool
	// User the container runs as ("uid" or "uid:gid"). Setting it in the task
	// definition, rather than relying on the image's USER, makes a non-root
	// user visible to reviewers and checks such as Security Hub ECS.20.
	// Default: the image's user.
	User *string
	// ServiceName of the ECS service. CloudFormation replaces a named
	// service only under a new name: a change that replaces the service
	// (FargateServiceProps.Spot, its construct ID) must change it too, or the
	// update is refused.
	// Default: a name generated by CloudFormation.
	ServiceName *string
	// DeploymentStrategy of the service: awsecs.DeploymentStrategy_ROLLING
	// replaces tasks in place; awsecs.DeploymentStrategy_BLUE_GREEN starts
	// the new tasks in an alternate target group, checks their certificate
	// through a test listener, then moves production traffic to them and
	// rolls back by moving it back (configure it with BlueGreen; Fargate
	// only; docs/bluegreen.md, and docs/rollout.md for the time each
	// takes). LINEAR and CANARY are refused.
	// Default: ROLLING.
	DeploymentStrategy awsecs.DeploymentStrategy
	// BlueGreen configures blue/green deployments: required with
	// DeploymentStrategy BLUE_GREEN, refused otherwise.
	// Default: none.
	BlueGreen *BlueGreenProps
}

// Service is an ECS service reachable through a TCP listener of a
// [LoadBalancer], with its own target group.
type Service struct {
	constructs.Construct
	// Service is the ECS service (an awsecs.FargateService or
	// awsecs.Ec2Service).
	Service awsecs.BaseService
	// TaskDefinition of the service.
	TaskDefinition awsecs.TaskDefinition
	// Container that terminates TLS.
	Container awsecs.ContainerDefinition
	// LogGroup of the container.
	LogGroup awslogs.LogGroup
	// TargetGroup the load balancer forwards the listener's connections to.
	TargetGroup elbv2.NetworkTargetGroup
	// Listener on the load balancer, TCP on ListenerPort.
	Listener elbv2.NetworkListener
	// LoadBalancer the service is attached to.
	LoadBalancer *LoadBalancer
	// SecurityGroup that admits the load balancer to the service's targets: a
	// Fargate service's own group, or an EC2 cluster's instance group, which
	// every task on those instances shares. In bridge mode the isolation
	// between services therefore comes from the listener -> target group
	// mapping, not from security groups.
	SecurityGroup awsec2.ISecurityGroup
	// ListenerPort of the service's listener.
	ListenerPort *float64
	// ContainerPort the container listens on.
	ContainerPort *float64
	// Alarms of the service.
	Alarms Alarms
	// Scaling of the task count; nil without AutoScaling.
	Scaling awsecs.ScalableTaskCount
	// BlueGreen are the resources of blue/green deployments; nil when the
	// service deploys rolling.
	BlueGreen *BlueGreen
	// Rollout deploys the service when its certificate changes; nil unless
	// Certificate.RollOut.
	Rollout *CertificateRollout

	// userSet tells whether ServiceProps.User was set, for
	// NewStrictCompliance.
	userSet bool
}

func newService(scope constructs.Construct, id *string) *Service {
	s := &Service{}
	constructs.NewConstruct_Override(s, scope, id)
	return s
}

// containerLimits are set on the container: in bridge mode all three, on
// Fargate the memory limit alone, the task's (its size limits it anyway).
type containerLimits struct {
	cpu, memoryLimit, memoryReservation *float64
}

// addContainer adds the TLS container to the task definition. hostPort is
// the container port for awsvpc and 0 (dynamic) for bridge network mode.
func (s *Service) addContainer(td awsecs.TaskDefinition, r *settings, hostPort *float64, limits containerLimits) {
	s.LogGroup = awslogs.NewLogGroup(s, jsii.String("Logs"), &awslogs.LogGroupProps{Retention: r.logRetention})
	var env *map[string]*string
	if r.environment != nil {
		env = &r.environment
	}
	var secrets *map[string]awsecs.Secret
	if r.secrets != nil {
		secrets = &r.secrets
	}
	s.Container = td.AddContainer(r.containerName, &awsecs.ContainerDefinitionOptions{
		Image:                r.image,
		Cpu:                  limits.cpu,
		MemoryLimitMiB:       limits.memoryLimit,
		MemoryReservationMiB: limits.memoryReservation,
		Environment:          env,
		Secrets:              secrets,
		Logging: awsecs.LogDriver_AwsLogs(&awsecs.AwsLogDriverProps{
			StreamPrefix: r.containerName,
			LogGroup:     s.LogGroup,
		}),
		PortMappings: &[]*awsecs.PortMapping{{
			ContainerPort: r.containerPort,
			HostPort:      hostPort,
			Protocol:      awsecs.Protocol_TCP,
		}},
		StopTimeout:            r.stopTimeout,
		HealthCheck:            r.healthCheck,
		User:                   r.user,
		ReadonlyRootFilesystem: jsii.Bool(r.readonlyRootFilesystem),
	})
	if r.certificateKey != nil {
		r.certificateKey.GrantDecrypt(td.ObtainExecutionRole())
	}
	suppressExecutionRoleWildcard(td.ExecutionRole())
	if r.onlyAddedServiceName {
		suppressNag(td, nagSuppression{
			id:     "AwsSolutions-ECS2",
			reason: "The only environment variable, SERVICE_NAME, names the service in its certificate expiry metric; secrets arrive as ECS secrets",
		})
	}
	s.TaskDefinition = td
	s.ContainerPort = r.containerPort
	s.userSet = r.user != nil
}

// attach wires the service to its load balancer: a TCP target group with
// TCP health checks on the traffic port, a TCP listener, the listener port
// opened to the load balancer's clients, and targetPort opened from the load
// balancer's security group to targets (both the NLB's egress and the
// targets' ingress rule); then its scaling and alarms.
func (s *Service) attach(svc awsecs.BaseService, r *settings, targetType elbv2.TargetType, targets awsec2.ISecurityGroup, targetPort awsec2.Port) {
	lb := r.loadBalancer
	s.Service = svc
	s.LoadBalancer = lb
	s.SecurityGroup = targets
	s.ListenerPort = r.listenerPort

	tgProps := &elbv2.NetworkTargetGroupProps{
		Vpc: lb.Vpc,
		// Only the default for a target registered without a port, which
		// ECS never does: it registers each task with its container port
		// (awsvpc) or host port (bridge) ("This port is used unless you
		// specify a port override when registering the target", Elastic
		// Load Balancing API reference, CreateTargetGroup). A constant, so
		// that a new ContainerPort does not replace the target group, which
		// would switch the listener to an empty group before ECS registers
		// the new tasks (Port requires replacement).
		Port:       jsii.Number(DefaultContainerPort),
		Protocol:   elbv2.Protocol_TCP,
		TargetType: targetType,
		HealthCheck: &elbv2.HealthCheck{
			Protocol: elbv2.Protocol_TCP,
			// The traffic port is the only one a dynamic-port target can be
			// checked on, and the one that proves the service accepts
			// connections.
			Port:                    jsii.String("traffic-port"),
			Interval:                r.healthCheckInterval,
			Timeout:                 seconds(DefaultHealthCheckTimeout),
			HealthyThresholdCount:   r.healthyThreshold,
			UnhealthyThresholdCount: r.unhealthyThreshold,
		},
		DeregistrationDelay: r.deregistrationDelay,
		// Off for every target type, set explicitly because instance targets
		// default to on: with it on, a task that calls its own load balancer
		// through the NLB's private addresses can be routed back to its own
		// instance, and the connection times out (hairpinning). Targets admit
		// the load balancer by its security group, which works either way.
		PreserveClientIp: jsii.Bool(false),
		ProxyProtocolV2:  jsii.Bool(r.proxyProtocol),
	}
	s.TargetGroup = elbv2.NewNetworkTargetGroup(s, jsii.String(targetGroupID(lb)), tgProps)
	if r.blueGreen == nil {
		// The task definition's only container and port mapping are the
		// TLS container's, which the service registers by default.
		svc.AttachToNetworkTargetGroup(s.TargetGroup)
	}
	s.Listener = elbv2.NewNetworkListener(s, jsii.String("Listener"), &elbv2.NetworkListenerProps{
		LoadBalancer:        lb.NLB,
		Port:                r.listenerPort,
		Protocol:            elbv2.Protocol_TCP,
		DefaultTargetGroups: &[]elbv2.INetworkTargetGroup{s.TargetGroup},
	})
	if r.blueGreen != nil {
		s.attachBlueGreen(svc, r, tgProps)
	}
	lb.allowClients(s, *r.listenerPort)
	targets.Connections().AllowFrom(lb.SecurityGroup, targetPort, jsii.String("Passthrough load balancer to targets"))

	s.addScaling(r.scaling)
	s.addAlarms(r.alarms)
	s.addRollout(r.rollout)
	if r.certificateReady != nil {
		svc.Node().AddDependency(r.certificateReady)
	}
}

// Connections of the security group that admits the load balancer to the
// service's targets (see SecurityGroup), so that a Service can be used
// wherever aws-cdk-go takes an awsec2.IConnectable.
func (s *Service) Connections() awsec2.Connections {
	return s.SecurityGroup.Connections()
}
