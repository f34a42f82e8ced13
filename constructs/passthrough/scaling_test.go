package passthrough_test

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
)

func TestAutoScalingTracksCPUAndMemoryAndKeepsTheFloor(t *testing.T) {
	f := newFixture(t, false)
	p := f.service(443)
	p.AutoScaling = &passthrough.AutoScalingProps{MaxCapacity: jsii.Number(8)}
	newFargate(f, "Api", p, 256, 512)
	tpl := f.template(t)

	tpl.Has("AWS::ApplicationAutoScaling::ScalableTarget", map[string]any{
		"MinCapacity":       2,
		"MaxCapacity":       8,
		"ScalableDimension": "ecs:service:DesiredCount",
	})
	for metric, target := range map[string]float64{"ECSServiceAverageCPUUtilization": 60, "ECSServiceAverageMemoryUtilization": 75} {
		tpl.Has("AWS::ApplicationAutoScaling::ScalingPolicy", map[string]any{
			"PolicyType": "TargetTrackingScaling",
			"TargetTrackingScalingPolicyConfiguration": map[string]any{
				"PredefinedMetricSpecification": map[string]any{"PredefinedMetricType": metric},
				"TargetValue":                   target,
				"ScaleInCooldown":               300,
				"ScaleOutCooldown":              60,
			},
		})
	}
	// Deployments keep the scaled count instead of resetting it.
	tpl.Has(typeService, map[string]any{"DesiredCount": assertions.Match_Absent()})
	tpl.Has(typeAlarm, map[string]any{"MetricName": "HealthyHostCount", "Threshold": 2})
}

func TestAutoScalingPropsAreRefusedWithPathAndValue(t *testing.T) {
	scaling := func(a passthrough.AutoScalingProps) func(f *fixture) {
		return serviceWith(func(p *serviceProps) { p.AutoScaling = &a })
	}
	runInvalid(t, []invalidCase{
		{"minimum below the floor", scaling(passthrough.AutoScalingProps{MinCapacity: jsii.Number(1), MaxCapacity: jsii.Number(4)}), "passthrough: Test/Api: AutoScaling.MinCapacity 1: must be a whole number from 2 to 10000"},
		{"maximum below the minimum", scaling(passthrough.AutoScalingProps{MinCapacity: jsii.Number(4), MaxCapacity: jsii.Number(3)}), "passthrough: Test/Api: AutoScaling.MaxCapacity 3: is below the minimum capacity 4"},
		{"no maximum", scaling(passthrough.AutoScalingProps{}), "passthrough: Test/Api: AutoScaling.MaxCapacity: is required"},
		{"CPU target of 100 percent", scaling(passthrough.AutoScalingProps{MaxCapacity: jsii.Number(4), TargetCPUPercent: jsii.Number(100)}), "passthrough: Test/Api: AutoScaling.TargetCPUPercent 100: must be a whole number from 10 to 95"},
	})
}
