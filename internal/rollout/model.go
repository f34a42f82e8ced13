package rollout

import (
	"errors"
	"fmt"
	"time"
)

// Settings are what a template says about one service's rollout. Each field
// is a CloudFormation property; FromTemplate fills in the service's default
// where the template leaves one out.
type Settings struct {
	// HealthCheckInterval is the target group's HealthCheckIntervalSeconds.
	HealthCheckInterval time.Duration
	// HealthyThreshold is the target group's HealthyThresholdCount.
	HealthyThreshold int
	// UnhealthyThreshold is the target group's UnhealthyThresholdCount. Read
	// and printed; no term of a healthy rollout.
	UnhealthyThreshold int
	// HealthCheckGracePeriod is the service's HealthCheckGracePeriodSeconds.
	// Read and printed; no term of a healthy rollout (see the package doc).
	HealthCheckGracePeriod time.Duration
	// DeregistrationDelay is the target group attribute
	// deregistration_delay.timeout_seconds.
	DeregistrationDelay time.Duration
	// MinHealthyPercent is DeploymentConfiguration.MinimumHealthyPercent.
	MinHealthyPercent int
	// MaxPercent is DeploymentConfiguration.MaximumPercent.
	MaxPercent int
	// StopTimeout is the longest StopTimeout of the task's containers: ECS
	// stops a task's containers together, and the task has exited when the
	// slowest has.
	StopTimeout time.Duration
	// DesiredCount is N, the service's task count: its DesiredCount, or
	// where Application Auto Scaling owns the count the MinCapacity of its
	// ScalableTarget (see FromTemplate and Service.Count).
	DesiredCount int
	// BlueGreen is DeploymentConfiguration.Strategy BLUE_GREEN: all new
	// tasks start at once in the alternate target group, and production
	// traffic moves to them after the test traffic shift and its hooks.
	BlueGreen bool
	// BakeTime is DeploymentConfiguration.BakeTimeInMinutes of a blue/green
	// service: both revisions run that long after production traffic moved.
	BakeTime time.Duration
}

// Waits of a blue/green deployment behind a Network Load Balancer that the
// template does not hold.
const (
	// NLBTrafficShiftDelay is what ECS adds to each of the TEST_TRAFFIC_SHIFT
	// and PRODUCTION_TRAFFIC_SHIFT stages behind a Network Load Balancer
	// ("Amazon ECS adds a 10 minute delay", Amazon ECS developer guide,
	// Network Load Balancer resources for blue/green deployments). A
	// rollback after production traffic moved pays it once more.
	NLBTrafficShiftDelay = 10 * time.Minute
	// HookRun is the longest run of Passthrough's TLS verification hook,
	// its function's timeout (constructs/passthrough, verifyTimeoutSeconds);
	// it usually takes a few seconds.
	HookRun = 60 * time.Second
)

// Constants are what a template cannot hold: how the load balancer and the
// container runtime behave. They are measured or assumed, not configured;
// see the Default constants for the figures and where they come from.
type Constants struct {
	// TaskStart is image pull plus task start, until the container listens.
	TaskStart time.Duration
	// RegistrationDelay is the time from ECS registering a new target until
	// the load balancer sends it the first health check.
	RegistrationDelay time.Duration
	// DrainWindow is how long the load balancer may still send new
	// connections to a target after its deregistration started.
	DrainWindow time.Duration
}

// The figures below are observations and one assumption, not guarantees;
// AWS documents none of them as a number. Where sources disagree the doc
// comment says so. TaskStart and RegistrationDelay are paid equally by both
// sides of a comparison, so a larger figure lowers the speed-up; DrainWindow
// decides Safe, so a larger figure can make a configuration unsafe.
const (
	// DefaultTaskStart is an assumption, not a measurement: 30 seconds for a
	// Fargate task (ENI attachment, pull from ECR in the same Region, start)
	// with a small image such as examples/tlsserver's. The Amazon ECS best
	// practices guide ("Speeding up task launch") names the phases but no
	// figure; AWS's re:Invent 2023 talk CON307 names the image pull as the
	// main part. Larger images take longer; pass -task-start to cmd/rollout.
	DefaultTaskStart = 30 * time.Second

	// DefaultRegistrationDelay is 120 seconds, what one reporter measured on
	// ECS on Fargate with ip targets in 2019: the Network Load Balancer user
	// guide says "It can take a few minutes for the registration process to
	// complete and health checks to start", a sentence added by
	// awsdocs/elb-network-load-balancers-user-guide#11, whose author saw
	// "around 120 seconds" before the first health check, and the same
	// author's aws/containers-roadmap#469 reports 70-120 s in state
	// "initial". Others report more: an aws-load-balancer-controller
	// maintainer gave "90 to 180 seconds" and AWS Support, quoted in
	// kubernetes-sigs/aws-load-balancer-controller#1834 (2023), "3-5
	// minutes (180 and 300 seconds)". 120 s is therefore at the low end.
	DefaultRegistrationDelay = 120 * time.Second

	// DefaultDrainWindow is 120 seconds, measured: a Network Load Balancer
	// keeps sending new connections to a deregistered target for about two
	// minutes. The sources are in the README's "Defaults and why", where the
	// same window sets Passthrough's deregistration delay; AWS Support
	// stated longer ones (SupportDrainWindows).
	DefaultDrainWindow = 120 * time.Second
)

// ReportedRegistrationDelays is the range of registration delays that
// reports give (see DefaultRegistrationDelay): 70 s measured to AWS
// Support's 300 s.
var ReportedRegistrationDelays = [2]time.Duration{70 * time.Second, 300 * time.Second}

// SupportDrainWindows are the ends of AWS Support's "3-5 minutes (180-300
// seconds) to process the requested deregistration, after which it will no
// longer receive new connections", quoted in
// kubernetes-sigs/aws-load-balancer-controller#1834 (2023). At 180 s a 120 s
// deregistration delay is not safe.
var SupportDrainWindows = [2]time.Duration{180 * time.Second, 300 * time.Second}

// DefaultConstants returns the Default constants.
func DefaultConstants() Constants {
	return Constants{
		TaskStart:         DefaultTaskStart,
		RegistrationDelay: DefaultRegistrationDelay,
		DrainWindow:       DefaultDrainWindow,
	}
}

// Baseline returns the settings of aws-cdk-lib's
// NetworkLoadBalancedFargateService with its defaults (read in aws-cdk-lib
// 2.275.0, the version this module pins): the pattern sets no health check
// and no target group attribute, so Elastic Load Balancing's defaults for a
// TCP target group apply (CreateTargetGroup: interval 30 s, healthy
// threshold 5, unhealthy threshold 2; deregistration delay 300 s); the
// service gets minimum healthy 50 % and maximum 200 % (BaseService), a
// health check grace period of 60 s because a load balancer is attached, and
// one task; the container has no StopTimeout, so ECS's default of 30 s
// applies. n is the task count: compare at the service's.
func Baseline(n int) Settings {
	return Settings{
		HealthCheckInterval:    30 * time.Second,
		HealthyThreshold:       5,
		UnhealthyThreshold:     2,
		HealthCheckGracePeriod: 60 * time.Second,
		DeregistrationDelay:    300 * time.Second,
		MinHealthyPercent:      50,
		MaxPercent:             200,
		StopTimeout:            30 * time.Second,
		DesiredCount:           n,
	}
}

// Estimate is the model's result for one service: every term of the
// formula in the package doc, so that a reader can check the arithmetic.
type Estimate struct {
	Settings Settings

	MinHealthy int // ceil(N·m/100)
	MaxRunning int // floor(N·M/100)
	BatchSize  int // min(N, MaxRunning − MinHealthy)
	Batches    int // ceil(N / BatchSize)

	Start        time.Duration // TaskStart
	Registration time.Duration // RegistrationDelay
	HealthChecks time.Duration // HealthyThreshold × HealthCheckInterval
	Drain        time.Duration // DeregistrationDelay
	Stop         time.Duration // StopTimeout
	Cycle        time.Duration // Start + Registration + HealthChecks + Drain + Stop

	// TrafficShifts, Hook and Bake are the waits of a blue/green deployment
	// (zero for rolling): 2 × NLBTrafficShiftDelay, HookRun and BakeTime.
	TrafficShifts, Hook, Bake time.Duration
	// Rollout is Batches × Cycle + TrafficShifts + Hook + Bake: one rolling
	// deployment, or one blue/green deployment, whose one batch starts every
	// new task and, after the bake time, drains and stops every old one.
	Rollout time.Duration
	// Rollback is how long a blue/green rollback takes once production
	// traffic moved: one production traffic shift back to the old tasks,
	// which still run. Zero for rolling, whose rollback is another rollout.
	Rollback time.Duration
	// Serving is DeregistrationDelay + StopTimeout: how long a task keeps
	// serving after the deployment started to stop it. It accepts new
	// connections for at most DrainWindow of it and finishes open ones in
	// the rest.
	Serving time.Duration
	// DrainMargin is DeregistrationDelay − DrainWindow.
	DrainMargin time.Duration
	// Safe reports DrainMargin ≥ 0: a connection the load balancer sends
	// during its drain window still finds the task before SIGTERM, so no
	// in-flight connection is dropped by the rollout itself.
	Safe bool
}

// RequiredSpeedup is the acceptance criterion: Passthrough's
// defaults must roll out at least this many times faster than aws-cdk-lib's
// pattern at the same desired count, constants included, and be Safe.
const RequiredSpeedup = 2.0

// Shortfalls lists how c misses the requirement: "under 2×" when Speedup
// is below RequiredSpeedup, "unsafe" when the service is not Safe. It is
// empty when c meets it.
//
// A blue/green service is held to Safe only: it spends time on purpose, to
// check the new tasks before production traffic reaches them.
func (c Comparison) Shortfalls() []string {
	var missing []string
	if c.Speedup < RequiredSpeedup && !c.Service.Settings.BlueGreen {
		missing = append(missing, fmt.Sprintf("under %g×", RequiredSpeedup))
	}
	if !c.Service.Safe {
		missing = append(missing, "unsafe")
	}
	return missing
}

// ErrStuck is returned for deployment settings with which ECS can neither
// start a task above the desired count nor stop one below it.
var ErrStuck = errors.New("rollout cannot progress")

// Model applies the formulas of the package doc to s and c.
func Model(s Settings, c Constants) (Estimate, error) {
	if err := s.validate(); err != nil {
		return Estimate{}, err
	}
	if c.TaskStart < 0 || c.RegistrationDelay < 0 || c.DrainWindow < 0 {
		return Estimate{}, fmt.Errorf("constants must not be negative: %+v", c)
	}
	n := s.DesiredCount
	e := Estimate{
		Settings:   s,
		MinHealthy: ceilDiv(n*s.MinHealthyPercent, 100),
		MaxRunning: n * s.MaxPercent / 100,
	}
	e.BatchSize = min(n, e.MaxRunning-e.MinHealthy)
	if s.BlueGreen {
		// The green revision scales to N beside blue, whatever the
		// percentages.
		e.BatchSize = n
	}
	if e.BatchSize <= 0 {
		return Estimate{}, fmt.Errorf("%w: %d tasks with minimum healthy %d %% and maximum %d %% allow at most %d running and need %d healthy",
			ErrStuck, n, s.MinHealthyPercent, s.MaxPercent, e.MaxRunning, e.MinHealthy)
	}
	e.Batches = ceilDiv(n, e.BatchSize)

	e.Start = c.TaskStart
	e.Registration = c.RegistrationDelay
	e.HealthChecks = time.Duration(s.HealthyThreshold) * s.HealthCheckInterval
	e.Drain = s.DeregistrationDelay
	e.Stop = s.StopTimeout
	e.Cycle = e.Start + e.Registration + e.HealthChecks + e.Drain + e.Stop
	e.Rollout = time.Duration(e.Batches) * e.Cycle
	if s.BlueGreen {
		e.TrafficShifts = 2 * NLBTrafficShiftDelay
		e.Hook = HookRun
		e.Bake = s.BakeTime
		e.Rollout += e.TrafficShifts + e.Hook + e.Bake
		e.Rollback = NLBTrafficShiftDelay
	}

	e.Serving = s.DeregistrationDelay + s.StopTimeout
	e.DrainMargin = s.DeregistrationDelay - c.DrainWindow
	e.Safe = e.DrainMargin >= 0
	return e, nil
}

// Comparison puts a service beside aws-cdk-lib's pattern at the same
// desired count.
type Comparison struct {
	Service  Estimate
	Baseline Estimate
	// Speedup is Baseline.Rollout / Service.Rollout.
	Speedup float64
}

// Compare models s and base, normally Baseline(s.DesiredCount), with the
// same constants.
func Compare(s, base Settings, c Constants) (Comparison, error) {
	svc, err := Model(s, c)
	if err != nil {
		return Comparison{}, err
	}
	b, err := Model(base, c)
	if err != nil {
		return Comparison{}, fmt.Errorf("baseline: %w", err)
	}
	return Comparison{Service: svc, Baseline: b, Speedup: b.Rollout.Seconds() / svc.Rollout.Seconds()}, nil
}

func (s Settings) validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(s.DesiredCount >= 1, "desired count %d: must be at least 1", s.DesiredCount)
	check(s.HealthCheckInterval > 0, "health check interval %v: must be positive", s.HealthCheckInterval)
	check(s.HealthyThreshold >= 1, "healthy threshold %d: must be at least 1", s.HealthyThreshold)
	check(s.DeregistrationDelay >= 0, "deregistration delay %v: must not be negative", s.DeregistrationDelay)
	check(s.StopTimeout >= 0, "stop timeout %v: must not be negative", s.StopTimeout)
	check(s.HealthCheckGracePeriod >= 0, "health check grace period %v: must not be negative", s.HealthCheckGracePeriod)
	check(s.MinHealthyPercent >= 0 && s.MinHealthyPercent <= 100, "minimum healthy %d %%: must be 0 to 100", s.MinHealthyPercent)
	check(s.MaxPercent >= 0, "maximum %d %%: must not be negative", s.MaxPercent)
	return errors.Join(errs...)
}

// ceilDiv is ⌈a/b⌉ for a ≥ 0, b > 0.
func ceilDiv(a, b int) int { return (a + b - 1) / b }
