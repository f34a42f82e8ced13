package passthrough_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
	"github.com/passthrough-cdk/passthrough/internal/cdktest"
)

// pathRecorder is an aspect that records the paths it visits.
type pathRecorder struct{ paths []string }

func (r *pathRecorder) Visit(node constructs.IConstruct) {
	r.paths = append(r.paths, *node.Node().Path())
}

func childIDs(c constructs.IConstruct) []string {
	var ids []string
	for _, child := range *c.Node().Children() {
		ids = append(ids, *child.Node().Id())
	}
	slices.Sort(ids)
	return ids
}

// What the constructors return are constructs in their own right: users
// add children to them, tag them and apply aspects to them.
func TestConstructsWorkAsScopes(t *testing.T) {
	f := newFixture(t, false)
	api := f.fargate("Api", 443)

	if got, want := childIDs(api), []string{"HealthyTargetsAlarm", "Listener", "Logs", "RollbackRule", "SecurityGroup", "Service", *api.TargetGroup.Node().Id(), "TaskDefinition", "UnhealthyTargetsAlarm"}; !slices.Equal(got, want) {
		t.Errorf("service children = %v, want %v", got, want)
	}
	if got, want := childIDs(f.lb), []string{"DNSName", "NLB", "PathMTUDiscovery", "PortAllocationErrorsAlarm", "SecurityGroup", "TargetResetsAlarm"}; !slices.Equal(got, want) {
		t.Errorf("load balancer children = %v, want %v", got, want)
	}
	if got, want := childIDs(f.cluster), []string{"Cluster", "Vpc"}; !slices.Equal(got, want) {
		t.Errorf("cluster children = %v, want %v", got, want)
	}

	// A child added by the user lands under the construct's path.
	topic := awssns.NewTopic(api, jsii.String("Alerts"), nil)
	if got := *topic.Node().Path(); got != "Test/Api/Alerts" {
		t.Errorf("child path = %s, want Test/Api/Alerts", got)
	}

	awscdk.Tags_Of(api).Add(jsii.String("team"), jsii.String("payments"), nil)
	aspect := &pathRecorder{}
	awscdk.Aspects_Of(f.lb).Add(aspect, nil)

	tpl := f.template(t)
	for _, typ := range []string{typeService, typeTargetGroup, typeSecurityGroup, "AWS::SNS::Topic"} {
		tpl.Has(typ, map[string]any{
			"Tags": assertions.Match_ArrayWith(&[]any{map[string]any{"Key": "team", "Value": "payments"}}),
		})
	}
	// The tag stays on the service's own resources.
	tpl.Has(typeLoadBalancer, map[string]any{"Tags": assertions.Match_Absent()})

	if !slices.Contains(aspect.paths, "Test/LB/NLB/Resource") || !slices.Contains(aspect.paths, "Test/LB/SecurityGroup/Resource") {
		t.Errorf("aspect on the load balancer visited %v; want its NLB and security group", aspect.paths)
	}
	for _, p := range aspect.paths {
		if !strings.HasPrefix(p, "Test/LB") {
			t.Errorf("aspect on the load balancer visited %s, outside it", p)
		}
	}
}

// A user's own VPC, ECS cluster and load balancer are used instead of new
// ones.
func TestBringYourOwnVpcClusterAndLoadBalancer(t *testing.T) {
	stack := cdktest.NewStack(t)
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), nil)
	instances := awsec2.NewSecurityGroup(stack, jsii.String("Instances"), &awsec2.SecurityGroupProps{Vpc: vpc})
	existing := awsecs.Cluster_FromClusterAttributes(stack, jsii.String("Existing"), &awsecs.ClusterAttributes{
		ClusterName:    jsii.String("shared"),
		Vpc:            vpc,
		SecurityGroups: &[]awsec2.ISecurityGroup{instances},
	})
	cluster := passthrough.NewCluster(stack, jsii.String("Cluster"), &passthrough.ClusterProps{
		Cluster:              existing,
		CapacityProviderName: jsii.String("shared-asg"),
		HostPortRange:        &passthrough.PortRange{Low: 49153, High: 65535},
	})
	lb := passthrough.NewLoadBalancer(stack, jsii.String("LB"), &passthrough.LoadBalancerProps{Vpc: vpc})
	passthrough.NewEC2Service(stack, jsii.String("Api"), &passthrough.EC2ServiceProps{ServiceProps: passthrough.ServiceProps{
		Cluster: cluster, LoadBalancer: lb, Image: awsecsImage(),
	}})

	tpl := cdktest.TemplateOf(t, stack)
	tpl.Count("AWS::EC2::VPC", 1)
	tpl.Count("AWS::ECS::Cluster", 0)
	tpl.Has(typeService, map[string]any{
		"Cluster":                  "shared",
		"CapacityProviderStrategy": []any{map[string]any{"CapacityProvider": "shared-asg", "Weight": 1}},
	})
	// The existing instances' range, as stated: the library cannot know it.
	tpl.Has(typeIngress, map[string]any{
		"GroupId":               getAtt(logicalID(t, stack, instances), "GroupId"),
		"SourceSecurityGroupId": getAtt(logicalID(t, stack, lb.SecurityGroup), "GroupId"),
		"FromPort":              49153,
		"ToPort":                65535,
	})
}

func TestEC2CapacityDefaults(t *testing.T) {
	f := newFixture(t, true)
	tpl := f.template(t)
	tpl.Has("AWS::ECS::CapacityProvider", map[string]any{
		"AutoScalingGroupProvider": assertions.Match_ObjectLike(&map[string]any{
			"ManagedDraining":              "ENABLED",
			"ManagedTerminationProtection": "DISABLED",
			"ManagedScaling":               assertions.Match_ObjectLike(&map[string]any{"Status": "ENABLED", "TargetCapacity": 100}),
		}),
	})
	tpl.Has("AWS::EC2::LaunchTemplate", map[string]any{
		"LaunchTemplateData": assertions.Match_ObjectLike(&map[string]any{
			"MetadataOptions": map[string]any{"HttpTokens": "required", "HttpPutResponseHopLimit": 1},
			"BlockDeviceMappings": []any{map[string]any{
				"DeviceName": "/dev/xvda",
				"Ebs":        map[string]any{"Encrypted": true, "VolumeSize": 30, "VolumeType": "gp3"},
			}},
			"ImageId": assertions.Match_ObjectLike(&map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("ecsoptimizedamiamazonlinux2023"))}),
		}),
	})
	tpl.Has("AWS::AutoScaling::AutoScalingGroup", map[string]any{"MinSize": "2", "MaxSize": "6"})
	// Public subnets hand out no public addresses (NIST 800-53 R5
	// VPCSubnetAutoAssignPublicIpDisabled).
	tpl.CountWith("AWS::EC2::Subnet", map[string]any{"MapPublicIpOnLaunch": true}, 0)
	tpl.CountWith("AWS::EC2::Subnet", map[string]any{"MapPublicIpOnLaunch": false}, 4)
	tpl.Has("AWS::ECS::Cluster", map[string]any{
		"ClusterSettings": []any{map[string]any{"Name": "containerInsights", "Value": "enabled"}},
	})
	// The agent hands out host ports from the range the security group
	// opens, below the kernel's ephemeral range (32768-60999).
	userData := strings.Builder{}
	for _, props := range tpl.Resources("AWS::EC2::LaunchTemplate") {
		userData.WriteString(jsonString(props))
	}
	if !strings.Contains(userData.String(), "ECS_DYNAMIC_HOST_PORT_RANGE=30000-32767") {
		t.Errorf("launch template user data does not pin ECS_DYNAMIC_HOST_PORT_RANGE: %s", userData.String())
	}
}

func TestManagedTerminationProtectionCanBeTurnedOn(t *testing.T) {
	stack := cdktest.NewStack(t)
	passthrough.NewCluster(stack, jsii.String("Cluster"), &passthrough.ClusterProps{
		EC2: &passthrough.EC2CapacityProps{ManagedTerminationProtection: jsii.Bool(true)},
	})
	tpl := cdktest.TemplateOf(t, stack)
	tpl.Has("AWS::ECS::CapacityProvider", map[string]any{
		"AutoScalingGroupProvider": assertions.Match_ObjectLike(&map[string]any{"ManagedTerminationProtection": "ENABLED"}),
	})
	tpl.Has("AWS::AutoScaling::AutoScalingGroup", map[string]any{"NewInstancesProtectedFromScaleIn": true})
}
