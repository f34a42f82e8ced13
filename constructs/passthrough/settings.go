package passthrough

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// A service's props go through two steps before anything is created:
// validate checks them and claims the listener port, and resolve applies
// every default. What builds the service (NewFargateService, NewEC2Service,
// addContainer, attach, addScaling, addAlarms) reads the settings that
// resolve returns, never the props.

// settings are a service's props with every default applied.
type settings struct {
	cluster                     *Cluster
	loadBalancer                *LoadBalancer
	listenerPort, containerPort *float64

	// The container.
	image         awsecs.ContainerImage
	containerName *string
	// environment is the container's plain environment: Environment, plus
	// SERVICE_NAME when the construct adds it for the certificate metric.
	environment map[string]*string
	// onlyAddedServiceName tells that the construct's SERVICE_NAME is the
	// only variable in environment.
	onlyAddedServiceName bool
	// secrets are Secrets and the certificate's; nil when there are none.
	secrets map[string]awsecs.Secret
	// certificateKey is the certificate secret's customer managed key, which
	// the execution role may decrypt with; nil without one.
	certificateKey awskms.IKey
	// certificateReady is what the service waits for before it starts
	// (Certificate.ready); nil when nothing.
	certificateReady       constructs.IDependable
	logRetention           awslogs.RetentionDays
	stopTimeout            awscdk.Duration
	healthCheck            *awsecs.HealthCheck
	user                   *string
	readonlyRootFilesystem bool

	// The ECS service.
	serviceName *string
	// tasks is the number of tasks the service runs: DesiredCount, or 2.
	// Under auto scaling it is the default minimum capacity; with Spot, the
	// on-demand base.
	tasks *float64
	// desiredCount is the DesiredCount in the template: tasks, or nil under
	// auto scaling, so that a deployment keeps the scaled count.
	desiredCount                         *float64
	minHealthyPercent, maxHealthyPercent *float64
	circuitBreaker                       *awsecs.DeploymentCircuitBreaker
	healthCheckGracePeriod               awscdk.Duration

	// The target group.
	healthCheckInterval                  awscdk.Duration
	healthyThreshold, unhealthyThreshold *float64
	deregistrationDelay                  awscdk.Duration
	proxyProtocol                        bool

	scaling   *scalingSettings   // nil without AutoScaling
	alarms    *alarmSettings     // nil when Alarms.Disabled
	rollout   *rolloutSettings   // nil unless Certificate.RollOut
	blueGreen *blueGreenSettings // nil for rolling deployments
}

// scalingSettings are AutoScalingProps with the defaults applied.
type scalingSettings struct {
	minCapacity, maxCapacity              *float64
	targetCPUPercent, targetMemoryPercent *float64
	scaleOutCooldown, scaleInCooldown     awscdk.Duration
}

// alarmSettings are what the service's alarms and rollback rule need.
type alarmSettings struct {
	topic awssns.ITopic // nil without Alarms.Topic
	// floor is the healthy-targets alarm's threshold: tasks, or the minimum
	// capacity under auto scaling.
	floor *float64
	// stack, its name and the service's path name the alarms and the rule.
	stack           awscdk.Stack
	stackName, path string
	// certificateExpiryDays is the certificate expiry alarm's threshold;
	// nil without a Certificate, and then there is no such alarm.
	certificateExpiryDays *float64
	// metricServiceName is the certificate metric's dimension value.
	metricServiceName *string
}

// validate checks the shared props and claims the listener port; launch-type
// checks run on the same validator before it panics.
func (p *ServiceProps) validate(v *validator) {
	v.required("Cluster", p.Cluster != nil)
	v.required("LoadBalancer", p.LoadBalancer != nil)
	v.required("Image", p.Image != nil)
	v.intRange("ListenerPort", p.ListenerPort, 1, 65535)
	v.intRange("ContainerPort", p.ContainerPort, 1, 65535)
	v.intRange("DesiredCount", p.DesiredCount, 1, maxTasks)
	v.intRange("HealthyThresholdCount", p.HealthyThresholdCount, minThreshold, maxThreshold)
	v.intRange("UnhealthyThresholdCount", p.UnhealthyThresholdCount, minThreshold, maxThreshold)
	v.intRange("MinHealthyPercent", p.MinHealthyPercent, 0, 100)
	v.intRange("MaxHealthyPercent", p.MaxHealthyPercent, 100, 200)
	v.seconds("HealthCheckInterval", p.HealthCheckInterval, minHealthCheckInterval, maxHealthCheckInterval)
	v.seconds("DeregistrationDelay", p.DeregistrationDelay, 0, maxDeregistrationDelay)
	v.seconds("StopTimeout", p.StopTimeout, 2, maxStopTimeout)
	v.seconds("HealthCheckGracePeriod", p.HealthCheckGracePeriod, 0, maxHealthCheckGracePeriod)
	p.Certificate.validate(v)
	for _, name := range []string{EnvCertificate, EnvPrivateKey, EnvKeyPassphrase, EnvClientCA} {
		if _, plain := p.Environment[name]; plain {
			v.failf("Environment", name, "would put key material in the template in plain text; deliver it with Certificate (or Secrets)")
		}
		if _, dup := p.Secrets[name]; dup && p.Certificate != nil && (name != EnvKeyPassphrase || p.Certificate.KeyPassphrase != nil) {
			v.failf("Secrets", name, "is also set by Certificate; set it in one place")
		}
	}
	if p.ContainerName != nil && !containerName.MatchString(*p.ContainerName) {
		v.failf("ContainerName", fmt.Sprintf("%q", *p.ContainerName), "must be 1 to 255 letters, digits, hyphens or underscores")
	}
	p.AutoScaling.validate(v, valueOr(p.DesiredCount, DefaultDesiredCount))
	p.Alarms.validate(v)
	p.validateDeployment(v)
	if v.err == nil && !sameVpc(p.Cluster.Vpc, p.LoadBalancer.Vpc) {
		v.failf("LoadBalancer", *p.LoadBalancer.Node().Path(), "is in another VPC than cluster %s; an NLB can only reach targets in its own VPC", *p.Cluster.Node().Path())
	}
	if v.err == nil {
		p.LoadBalancer.claimListenerPort(v, pointerOr(p.ListenerPort, DefaultListenerPort))
	}
	if v.err == nil && p.BlueGreen != nil && p.BlueGreen.TestListenerPort != nil {
		p.LoadBalancer.claimTestListenerPort(v, *p.BlueGreen.TestListenerPort)
	}
}

// resolve applies the defaults of valid props for the service s.
func (p *ServiceProps) resolve(s *Service) *settings {
	r := &settings{
		cluster:       p.Cluster,
		loadBalancer:  p.LoadBalancer,
		listenerPort:  pointerOr(p.ListenerPort, DefaultListenerPort),
		containerPort: pointerOr(p.ContainerPort, DefaultContainerPort),

		image:                  p.Image,
		containerName:          pointerOr(p.ContainerName, DefaultContainerName),
		environment:            p.Environment,
		logRetention:           p.LogRetention,
		stopTimeout:            durationOr(p.StopTimeout, DefaultStopTimeout),
		healthCheck:            p.ContainerHealthCheck,
		user:                   p.User,
		readonlyRootFilesystem: valueOr(p.ReadonlyRootFilesystem, true),

		serviceName:            p.ServiceName,
		tasks:                  pointerOr(p.DesiredCount, DefaultDesiredCount),
		minHealthyPercent:      pointerOr(p.MinHealthyPercent, DefaultMinHealthyPercent),
		maxHealthyPercent:      pointerOr(p.MaxHealthyPercent, DefaultMaxHealthyPercent),
		circuitBreaker:         p.CircuitBreaker,
		healthCheckGracePeriod: durationOr(p.HealthCheckGracePeriod, DefaultHealthCheckGracePeriod),

		healthCheckInterval: durationOr(p.HealthCheckInterval, DefaultHealthCheckInterval),
		healthyThreshold:    pointerOr(p.HealthyThresholdCount, DefaultHealthyThreshold),
		unhealthyThreshold:  pointerOr(p.UnhealthyThresholdCount, DefaultUnhealthyThreshold),
		deregistrationDelay: durationOr(p.DeregistrationDelay, DefaultDeregistrationDelay),
		proxyProtocol:       valueOr(p.ProxyProtocol, false),
	}
	r.blueGreen = p.resolveBlueGreen()
	if r.logRetention == "" {
		r.logRetention = defaultLogRetention
	}
	if r.circuitBreaker == nil {
		r.circuitBreaker = &awsecs.DeploymentCircuitBreaker{Enable: jsii.Bool(true), Rollback: jsii.Bool(true)}
	}
	if c := p.Certificate; c != nil || p.Secrets != nil {
		r.secrets = map[string]awsecs.Secret{}
		for k, v := range p.Secrets {
			r.secrets[k] = v
		}
		if c != nil {
			for k, v := range c.secrets() {
				r.secrets[k] = v
			}
			r.certificateKey = c.EncryptionKey
			r.certificateReady = c.ready
		}
	}

	r.desiredCount = r.tasks
	floor := r.tasks
	if a := p.AutoScaling; a != nil {
		r.scaling = &scalingSettings{
			minCapacity:         pointerOr(a.MinCapacity, *r.tasks),
			maxCapacity:         a.MaxCapacity,
			targetCPUPercent:    pointerOr(a.TargetCPUPercent, DefaultTargetCPUPercent),
			targetMemoryPercent: pointerOr(a.TargetMemoryPercent, DefaultTargetMemoryPercent),
			scaleOutCooldown:    durationOr(a.ScaleOutCooldown, DefaultScaleOutCooldown),
			scaleInCooldown:     durationOr(a.ScaleInCooldown, DefaultScaleInCooldown),
		}
		// Application Auto Scaling owns the count; a DesiredCount in the
		// template would reset it on every deployment.
		r.desiredCount = nil
		floor = r.scaling.minCapacity
	}

	stack := awscdk.Stack_Of(s)
	if c := p.Certificate; c != nil && valueOr(c.RollOut, false) {
		r.rollout = &rolloutSettings{secret: c.Secret, alarms: p.Alarms.enabled(), stack: stack, stackName: *stack.StackName(), path: *s.Node().Path()}
		if p.Alarms.enabled() && p.Alarms != nil {
			r.rollout.topic = p.Alarms.Topic
		}
	}
	if !p.Alarms.enabled() {
		return r
	}
	a := &alarmSettings{floor: floor, stack: stack, stackName: *stack.StackName(), path: *s.Node().Path()}
	if p.Alarms != nil {
		a.topic = p.Alarms.Topic
	}
	r.alarms = a
	if p.Certificate == nil {
		return r
	}
	a.certificateExpiryDays = jsii.Number(DefaultCertificateExpiryDays)
	if p.Alarms != nil && p.Alarms.CertificateExpiryDays != nil {
		a.certificateExpiryDays = p.Alarms.CertificateExpiryDays
	}
	a.metricServiceName = p.Environment[EnvServiceName]
	if a.metricServiceName == nil {
		// Stack and path, not the construct ID alone: metrics are per
		// account and Region, and two stacks there that both have an "Api"
		// would otherwise report into one series, each alarm firing for the
		// other's certificate.
		a.metricServiceName = jsii.String(metricServiceName(a.stack, a.stackName, a.path))
		r.environment = map[string]*string{EnvServiceName: a.metricServiceName}
		for k, v := range p.Environment {
			r.environment[k] = v
		}
		r.onlyAddedServiceName = len(p.Environment) == 0
	}
	return r
}
