package passthrough

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/jsii-runtime-go"
)

// The instance types and zones of a cluster's EC2 capacity, where they go
// beyond aws-cdk-lib's defaults: AWS Control Tower's proactive controls read
// both from the Auto Scaling group's own properties.

// defaultInstanceType of the EC2 capacity.
const defaultInstanceType = "t3.medium"

// validateFallbacks refuses a fallback instance type of another
// architecture than InstanceType, and one listed twice.
func (e *EC2CapacityProps) validateFallbacks(v *validator) {
	if len(e.FallbackInstanceTypes) == 0 {
		return
	}
	primary := e.InstanceType
	if primary == nil {
		primary = awsec2.NewInstanceType(jsii.String(defaultInstanceType))
	}
	arch := primary.Architecture()
	seen := map[string]bool{*primary.ToString(): true}
	for _, t := range e.FallbackInstanceTypes {
		if t == nil {
			v.fail("EC2.FallbackInstanceTypes", "nil", "holds a nil instance type")
			return
		}
		name := *t.ToString()
		if seen[name] {
			v.fail("EC2.FallbackInstanceTypes", name, "is listed twice, or is InstanceType itself; list each other type once")
			return
		}
		seen[name] = true
		if a := t.Architecture(); a != arch {
			v.failf("EC2.FallbackInstanceTypes", name, "is %s, but InstanceType %s is %s: the instances run one image, built for one architecture", archName(a), *primary.ToString(), archName(arch))
			return
		}
	}
}

// archName is an architecture as EC2 names it.
func archName(a awsec2.InstanceArchitecture) string {
	if a == awsec2.InstanceArchitecture_ARM_64 {
		return "arm64"
	}
	return "x86_64"
}

// mixInstanceTypes gives the Auto Scaling group a mixed instances policy
// over types, launched in their order of preference ("prioritized": "the
// order of instance types in the list of launch template overrides is used
// to determine which instance type to use first", EC2 Auto Scaling API
// reference, InstancesDistribution), with the launch template it had. It
// works on the CloudFormation resource so that NewStrictCompliance can do
// the same to a group built with one type.
func mixInstanceTypes(asg awsautoscaling.AutoScalingGroup, lt awsec2.LaunchTemplate, types []awsec2.InstanceType) {
	overrides := make([]any, len(types))
	for i, t := range types {
		overrides[i] = &awsautoscaling.CfnAutoScalingGroup_LaunchTemplateOverridesProperty{InstanceType: t.ToString()}
	}
	cfn := asg.Node().DefaultChild().(awsautoscaling.CfnAutoScalingGroup)
	// The setter refuses nil; the template must not hold both.
	cfn.AddPropertyDeletionOverride(jsii.String("LaunchTemplate"))
	cfn.SetMixedInstancesPolicy(&awsautoscaling.CfnAutoScalingGroup_MixedInstancesPolicyProperty{
		LaunchTemplate: &awsautoscaling.CfnAutoScalingGroup_LaunchTemplateProperty{
			LaunchTemplateSpecification: &awsautoscaling.CfnAutoScalingGroup_LaunchTemplateSpecificationProperty{
				LaunchTemplateId: lt.LaunchTemplateId(),
				Version:          lt.LatestVersionNumber(),
			},
			Overrides: &overrides,
		},
		InstancesDistribution: &awsautoscaling.CfnAutoScalingGroup_InstancesDistributionProperty{
			OnDemandAllocationStrategy: jsii.String("prioritized"),
		},
	})
	suppressNag(asg, nagSuppression{
		id:        nagValidationFailure,
		reason:    "cdk-nag's AwsSolutions-EC26 reads the volumes from the group's LaunchTemplate property, which a mixed instances policy replaces, and fails to evaluate; the launch template's only volume, the root volume, is encrypted",
		appliesTo: []string{"AwsSolutions-EC26"},
	})
}

// stateZones names, in the Auto Scaling group's AvailabilityZones, the
// zones of the subnets it launches into (its VPCZoneIdentifier, the VPC's
// default selection, which aws-cdk-lib leaves AvailabilityZones out for).
// The group spans them either way; AWS Control Tower's CT.AUTOSCALING.PR.1
// reads the zones from AvailabilityZones only. Both may be given when "the
// subnets that you specify ... reside in those Availability Zones" (EC2
// Auto Scaling API reference, CreateAutoScalingGroup, VPCZoneIdentifier),
// and CloudFormation updates the property without interruption.
func stateZones(asg awsautoscaling.AutoScalingGroup, vpc awsec2.IVpc) {
	var zones []*string
	seen := map[string]bool{}
	for _, z := range *vpc.SelectSubnets(nil).AvailabilityZones {
		if !seen[*z] {
			seen[*z] = true
			zones = append(zones, z)
		}
	}
	asg.Node().DefaultChild().(awsautoscaling.CfnAutoScalingGroup).SetAvailabilityZones(&zones)
}

// siblingFamilies pairs instance families whose types of the same size
// have the same vCPUs, memory and architecture, and which AWS Control
// Tower's CT.AUTOSCALING.PR.11 accepts in a mixed instances policy: both
// are Nitro types that encrypt the traffic between instances (the rule's
// list, and the Amazon EC2 user guide, "Encryption in transit"). Intel and
// AMD generations of x86_64 (m6i and m6a, ...) and Graviton families with
// and without local NVMe storage (c7g and c7gd, ...). The burstable
// families (t3, t3a, t4g) and the older generations (m5, c5, m6g, ...) are
// not in that list, so no pair of them passes both PR.6 and PR.11.
var siblingFamilies = map[string]string{
	"m6i": "m6a", "m6a": "m6i", "c6i": "c6a", "c6a": "c6i", "r6i": "r6a", "r6a": "r6i",
	"m7i": "m7a", "m7a": "m7i", "c7i": "c7a", "c7a": "c7i", "r7i": "r7a", "r7a": "r7i",
	"m7g": "m7gd", "m7gd": "m7g", "c7g": "c7gd", "c7gd": "c7g", "r7g": "r7gd", "r7gd": "r7g",
}

// siblingSizes are the sizes that both families of each pair offer.
var siblingSizes = map[string]bool{"large": true, "xlarge": true, "2xlarge": true, "4xlarge": true, "8xlarge": true}

// strictDefaultInstanceTypes replace the default t3.medium under
// NewStrictCompliance: the cheapest pair of its vCPUs and memory (2 and
// 4 GiB) that CT.AUTOSCALING.PR.6 and PR.11 accept together.
var strictDefaultInstanceTypes = []string{"c6a.large", "c6i.large"}

// sameShapeSibling is the instance type of the sibling family at the same
// size ("m6i.large" -> "m6a.large"), if there is one.
func sameShapeSibling(name string) (string, bool) {
	family, size, ok := strings.Cut(name, ".")
	sibling, known := siblingFamilies[family]
	if !ok || !known || !siblingSizes[size] {
		return "", false
	}
	return sibling + "." + size, true
}
