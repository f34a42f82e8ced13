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

// floor is the number of tasks below which the service is not redundant.
func (r *resolved) floor() float64 {
	if r.DesiredCount != nil && *r.DesiredCount < DefaultDesiredCount {
		return *r.DesiredCount
	}
	return DefaultDesiredCount
}

func (a *AutoScalingProps) validate(v *validator, r *resolved) {
	if a == nil {
		return
	}
	v.required("AutoScaling.MaxCapacity", a.MaxCapacity != nil)
	v.intRange("AutoScaling.MinCapacity", a.MinCapacity, r.floor(), 10000)
	v.intRange("AutoScaling.MaxCapacity", a.MaxCapacity, 1, 10000)
	v.intRange("AutoScaling.TargetCPUPercent", a.TargetCPUPercent, 10, 95)
	v.intRange("AutoScaling.TargetMemoryPercent", a.TargetMemoryPercent, 10, 95)
	lo := float64OrDefault(a.MinCapacity, *r.desiredCount)
	if a.MaxCapacity != nil && *a.MaxCapacity < lo && !isToken(*a.MaxCapacity) && !isToken(lo) {
		v.failf("AutoScaling.MaxCapacity", formatNumber(*a.MaxCapacity), "is below the minimum capacity %s", formatNumber(lo))
	}
}

// minCapacity is the lower bound auto scaling keeps.
func (a *AutoScalingProps) minCapacity(r *resolved) *float64 {
	return float64OrDefaultPtr(a.MinCapacity, *r.desiredCount)
}

// addScaling registers the service with Application Auto Scaling. The ECS
// service then has no DesiredCount in the template (see validate), so a
// deployment keeps the current, scaled count instead of resetting it.
func (s *Service) addScaling(a *AutoScalingProps, r *resolved) {
	if a == nil {
		return
	}
	seconds := func(d awscdk.Duration, def float64) awscdk.Duration {
		if d != nil {
			return d
		}
		return seconds(def)
	}
	s.Scaling = s.Service.AutoScaleTaskCount(&awsapplicationautoscaling.EnableScalingProps{
		MinCapacity: a.minCapacity(r),
		MaxCapacity: a.MaxCapacity,
	})
	s.Scaling.ScaleOnCpuUtilization(jsii.String("Cpu"), &awsecs.CpuUtilizationScalingProps{
		TargetUtilizationPercent: float64OrDefaultPtr(a.TargetCPUPercent, 60),
		ScaleOutCooldown:         seconds(a.ScaleOutCooldown, 60),
		ScaleInCooldown:          seconds(a.ScaleInCooldown, 300),
	})
	s.Scaling.ScaleOnMemoryUtilization(jsii.String("Memory"), &awsecs.MemoryUtilizationScalingProps{
		TargetUtilizationPercent: float64OrDefaultPtr(a.TargetMemoryPercent, 75),
		ScaleOutCooldown:         seconds(a.ScaleOutCooldown, 60),
		ScaleInCooldown:          seconds(a.ScaleInCooldown, 300),
	})
}
