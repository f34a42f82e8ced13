package passthrough

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapplicationautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/jsii-runtime-go"
)

// AutoScalingProps scales a service's task count with target tracking on
// CPU and memory utilization.
type AutoScalingProps struct {
	// MinCapacity is the fewest tasks. It may not go below the service's
	// floor: two tasks (one per Availability Zone), or DesiredCount if that
	// was set lower on purpose.
	// Default: DesiredCount (2).
	MinCapacity *float64
	// MaxCapacity is the most tasks. Required.
	MaxCapacity *float64
	// TargetCPUPercent is the average CPU utilization to track. Leaves
	// headroom for the TLS handshakes of a burst of new connections, which
	// are CPU bound.
	// Default: 60.
	TargetCPUPercent *float64
	// TargetMemoryPercent is the average memory utilization to track.
	// Default: 75.
	TargetMemoryPercent *float64
	// ScaleOutCooldown after a scale-out before another one.
	// Default: 60 seconds.
	ScaleOutCooldown awscdk.Duration
	// ScaleInCooldown after a scale-in before another one. Longer than a
	// scale-out, because each scale-in drains tasks for the deregistration
	// delay.
	// Default: 300 seconds.
	ScaleInCooldown awscdk.Duration
}

// Defaults of AutoScalingProps; the reasons are in the fields' doc comments.
const (
	DefaultTargetCPUPercent    = 60
	DefaultTargetMemoryPercent = 75
	DefaultScaleOutCooldown    = 60  // seconds
	DefaultScaleInCooldown     = 300 // seconds
	// minTargetPercent and maxTargetPercent bound the target utilizations
	// accepted.
	minTargetPercent, maxTargetPercent = 10, 95
)

// validate checks a against the service's tasks, DesiredCount or its
// default: MinCapacity may go below two tasks (one per Availability Zone)
// only where DesiredCount already did.
func (a *AutoScalingProps) validate(v *validator, tasks float64) {
	if a == nil {
		return
	}
	v.required("AutoScaling.MaxCapacity", a.MaxCapacity != nil)
	v.intRange("AutoScaling.MinCapacity", a.MinCapacity, min(tasks, DefaultDesiredCount), maxTasks)
	v.intRange("AutoScaling.MaxCapacity", a.MaxCapacity, 1, maxTasks)
	v.intRange("AutoScaling.TargetCPUPercent", a.TargetCPUPercent, minTargetPercent, maxTargetPercent)
	v.intRange("AutoScaling.TargetMemoryPercent", a.TargetMemoryPercent, minTargetPercent, maxTargetPercent)
	lo := valueOr(a.MinCapacity, tasks)
	if a.MaxCapacity != nil && *a.MaxCapacity < lo && !isToken(*a.MaxCapacity) && !isToken(lo) {
		v.failf("AutoScaling.MaxCapacity", formatNumber(*a.MaxCapacity), "is below the minimum capacity %s", formatNumber(lo))
	}
}

// addScaling registers the service with Application Auto Scaling, if
// scaling is set. The ECS service then has no DesiredCount in the template
// (see resolve), so a deployment keeps the current, scaled count instead of
// resetting it.
func (s *Service) addScaling(a *scalingSettings) {
	if a == nil {
		return
	}
	s.Scaling = s.Service.AutoScaleTaskCount(&awsapplicationautoscaling.EnableScalingProps{
		MinCapacity: a.minCapacity,
		MaxCapacity: a.maxCapacity,
	})
	s.Scaling.ScaleOnCpuUtilization(jsii.String("Cpu"), &awsecs.CpuUtilizationScalingProps{
		TargetUtilizationPercent: a.targetCPUPercent,
		ScaleOutCooldown:         a.scaleOutCooldown,
		ScaleInCooldown:          a.scaleInCooldown,
	})
	s.Scaling.ScaleOnMemoryUtilization(jsii.String("Memory"), &awsecs.MemoryUtilizationScalingProps{
		TargetUtilizationPercent: a.targetMemoryPercent,
		ScaleOutCooldown:         a.scaleOutCooldown,
		ScaleInCooldown:          a.scaleInCooldown,
	})
}
