package passthrough_test

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
)

// The Auto Scaling group names the zones of its subnets in
// AvailabilityZones, where AWS Control Tower's CT.AUTOSCALING.PR.1 reads
// them, and the launch template asks for one-minute metrics
// (CT.EC2.PR.10).
func TestEC2CapacityStatesItsZonesAndDetailedMonitoring(t *testing.T) {
	f := newFixture(t, true)
	tpl := f.template(t)
	tpl.Has("AWS::AutoScaling::AutoScalingGroup", map[string]any{
		"AvailabilityZones": []any{
			map[string]any{"Fn::Select": []any{0, map[string]any{"Fn::GetAZs": ""}}},
			map[string]any{"Fn::Select": []any{1, map[string]any{"Fn::GetAZs": ""}}},
		},
		"VPCZoneIdentifier": assertions.Match_AnyValue(),
	})
	tpl.Has("AWS::EC2::LaunchTemplate", map[string]any{
		"LaunchTemplateData": assertions.Match_ObjectLike(&map[string]any{"Monitoring": map[string]any{"Enabled": true}}),
	})
}

// Fallback instance types make a mixed instances policy over the launch
// template, with InstanceType first and "prioritized", so the fallbacks
// are launched only when InstanceType cannot be.
func TestFallbackInstanceTypesAreLaunchedOnlyWhenTheFirstHasNoCapacity(t *testing.T) {
	f := newFixture(t, false)
	c := passthrough.NewCluster(f.stack, jsii.String("Graviton"), &passthrough.ClusterProps{EC2: &passthrough.EC2CapacityProps{
		InstanceType:          awsec2.NewInstanceType(jsii.String("c7g.large")),
		FallbackInstanceTypes: []awsec2.InstanceType{awsec2.NewInstanceType(jsii.String("c7gd.large"))},
	}})
	tpl := f.template(t)
	lt := logicalID(t, f.stack, c.Node().FindChild(jsii.String("LaunchTemplate")))
	tpl.Has("AWS::AutoScaling::AutoScalingGroup", map[string]any{
		"LaunchTemplate": assertions.Match_Absent(),
		"MixedInstancesPolicy": map[string]any{
			"InstancesDistribution": map[string]any{"OnDemandAllocationStrategy": "prioritized"},
			"LaunchTemplate": map[string]any{
				"LaunchTemplateSpecification": map[string]any{"LaunchTemplateId": ref(lt), "Version": getAtt(lt, "LatestVersionNumber")},
				"Overrides":                   []any{map[string]any{"InstanceType": "c7g.large"}, map[string]any{"InstanceType": "c7gd.large"}},
			},
		},
	})
}

func TestFallbackInstanceTypesValidation(t *testing.T) {
	capacity := func(primary string, fallbacks ...string) func(f *fixture) {
		return func(f *fixture) {
			props := &passthrough.EC2CapacityProps{}
			if primary != "" {
				props.InstanceType = awsec2.NewInstanceType(jsii.String(primary))
			}
			for _, t := range fallbacks {
				props.FallbackInstanceTypes = append(props.FallbackInstanceTypes, awsec2.NewInstanceType(jsii.String(t)))
			}
			passthrough.NewCluster(f.stack, jsii.String("Capacity"), &passthrough.ClusterProps{EC2: props})
		}
	}
	runInvalid(t, []invalidCase{
		{
			name:  "another architecture",
			build: capacity("c7g.large", "c6a.large"),
			want:  "passthrough: Test/Capacity: EC2.FallbackInstanceTypes c6a.large: is x86_64, but InstanceType c7g.large is arm64: the instances run one image, built for one architecture",
		},
		{
			name:  "another architecture than the default",
			build: capacity("", "c7g.large"),
			want:  "passthrough: Test/Capacity: EC2.FallbackInstanceTypes c7g.large: is arm64, but InstanceType t3.medium is x86_64: the instances run one image, built for one architecture",
		},
		{
			name:  "InstanceType again",
			build: capacity("m6i.large", "m6i.large"),
			want:  "passthrough: Test/Capacity: EC2.FallbackInstanceTypes m6i.large: is listed twice, or is InstanceType itself; list each other type once",
		},
		{
			name:  "listed twice",
			build: capacity("m6i.large", "m6a.large", "m6a.large"),
			want:  "passthrough: Test/Capacity: EC2.FallbackInstanceTypes m6a.large: is listed twice, or is InstanceType itself; list each other type once",
		},
	})
}
