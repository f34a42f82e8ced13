package passthrough_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
	"github.com/passthrough-cdk/passthrough/internal/cdktest"
)

func TestGravitonInstancesGetTheARMAMI(t *testing.T) {
	stack := cdktest.NewStack(t)
	passthrough.NewCluster(stack, jsii.String("Cluster"), &passthrough.ClusterProps{
		EC2: &passthrough.EC2CapacityProps{InstanceType: awsec2.NewInstanceType(jsii.String("t4g.medium"))},
	})
	tpl := cdktest.TemplateOf(t, stack)
	tpl.Has("AWS::EC2::LaunchTemplate", map[string]any{
		"LaunchTemplateData": assertions.Match_ObjectLike(&map[string]any{
			"InstanceType": "t4g.medium",
			"ImageId":      map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("amazonlinux2023arm64"))},
		}),
	})
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

// A service that places tasks with a capacity provider strategy (every EC2
// service of a new cluster, and Fargate Spot) waits for the cluster's
// capacity provider association, which must also outlive it on delete; a
// plain Fargate service has no strategy and needs none.
func TestServicesWithCapacityProvidersWaitForTheAssociation(t *testing.T) {
	f := newFixture(t, true)
	scaled := f.service(443)
	scaled.AutoScaling = &passthrough.AutoScalingProps{MaxCapacity: jsii.Number(4)}
	onEC2 := passthrough.NewEC2Service(f.stack, jsii.String("OnEC2"), &passthrough.EC2ServiceProps{ServiceProps: scaled})
	onSpot := passthrough.NewFargateService(f.stack, jsii.String("OnSpot"), &passthrough.FargateServiceProps{
		ServiceProps: f.service(8443), Spot: jsii.Bool(true),
	})
	plain := f.fargate("Plain", 9443)
	tpl := f.template(t)
	association := onlyID(t, tpl, "AWS::ECS::ClusterCapacityProviderAssociations")
	for _, svc := range []*passthrough.Service{onEC2, onSpot} {
		id := logicalID(t, f.stack, svc.Service)
		if deps := dependsOn(t, tpl, id); !deps[association] {
			t.Errorf("%s depends on %v, not on the capacity provider association %s", *svc.Node().Path(), deps, association)
		}
	}
	if deps := dependsOn(t, tpl, logicalID(t, f.stack, plain.Service)); deps[association] {
		t.Errorf("Fargate service without a strategy depends on the association: %v", deps)
	}
	// Only the ECS service itself waits, not the scaling resources beneath
	// its construct.
	targets := tpl.Resources("AWS::ApplicationAutoScaling::ScalableTarget")
	if len(targets) != 1 {
		t.Fatalf("%d scalable targets, want 1", len(targets))
	}
	for id := range targets {
		if dependsOn(t, tpl, id)[association] {
			t.Errorf("scalable target %s depends on the association", id)
		}
	}
}

// Services in another stack than their cluster depend on the cluster's
// stack, which already owns everything they reference: the ordering adds no
// dependency back, so the app synthesizes and the stacks deploy in order.
func TestCapacityProviderOrderingAcrossStacksHasNoCycle(t *testing.T) {
	app := cdktest.NewApp(t, cdktest.AppContext(t))
	network := awscdk.NewStack(app, jsii.String("Network"), nil)
	cluster := passthrough.NewCluster(network, jsii.String("Cluster"), &passthrough.ClusterProps{EC2: &passthrough.EC2CapacityProps{}})
	lb := passthrough.NewLoadBalancer(network, jsii.String("LB"), &passthrough.LoadBalancerProps{Vpc: cluster.Vpc})
	svcs := awscdk.NewStack(app, jsii.String("Services"), nil)
	passthrough.NewEC2Service(svcs, jsii.String("OnEC2"), &passthrough.EC2ServiceProps{ServiceProps: passthrough.ServiceProps{
		Cluster: cluster, LoadBalancer: lb, Image: awsecsImage(),
	}})
	passthrough.NewFargateService(svcs, jsii.String("OnSpot"), &passthrough.FargateServiceProps{Spot: jsii.Bool(true), ServiceProps: passthrough.ServiceProps{
		Cluster: cluster, LoadBalancer: lb, Image: awsecsImage(), ListenerPort: jsii.Number(8443),
	}})
	assembly := cdktest.Synth(t, app)
	var networkDeps, serviceDeps []string
	for _, d := range *assembly.GetStackByName(jsii.String("Network")).Dependencies() {
		networkDeps = append(networkDeps, *d.Id())
	}
	for _, d := range *assembly.GetStackByName(jsii.String("Services")).Dependencies() {
		serviceDeps = append(serviceDeps, *d.Id())
	}
	if strings.Contains(strings.Join(networkDeps, " "), "Services") {
		t.Errorf("the cluster's stack depends on %v", networkDeps)
	}
	if !strings.Contains(strings.Join(serviceDeps, " "), "Network") {
		t.Errorf("the services' stack depends on %v, not on the cluster's", serviceDeps)
	}
}

// A machine image of the user's own comes with the host port range its
// agent hands out; the cluster writes it to the agent's configuration too,
// and EC2 services open exactly it.
func TestCustomMachineImageTakesItsHostPortRange(t *testing.T) {
	f := newFixture(t, false)
	f.cluster = passthrough.NewCluster(f.stack, jsii.String("Custom"), &passthrough.ClusterProps{EC2: &passthrough.EC2CapacityProps{
		MachineImage:  awsecs.EcsOptimizedImage_AmazonLinux2(awsecs.AmiHardwareType_STANDARD, nil),
		HostPortRange: &passthrough.PortRange{Low: 20000, High: 20999},
	}})
	f.lb = passthrough.NewLoadBalancer(f.stack, jsii.String("CustomLB"), &passthrough.LoadBalancerProps{Vpc: f.cluster.Vpc})
	f.ec2("Api", 443)
	tpl := f.template(t)
	tpl.Has(typeIngress, map[string]any{
		"GroupId":               getAtt(logicalID(t, f.stack, f.cluster.InstanceSecurityGroup), "GroupId"),
		"SourceSecurityGroupId": getAtt(logicalID(t, f.stack, f.lb.SecurityGroup), "GroupId"),
		"FromPort":              20000,
		"ToPort":                20999,
	})
	if raw := jsonString(tpl.Resources("AWS::EC2::LaunchTemplate")); !strings.Contains(raw, "ECS_DYNAMIC_HOST_PORT_RANGE=20000-20999") {
		t.Errorf("user data does not pin the stated range: %s", raw)
	}
}

func TestClusterPropsAreRefusedWithPathAndValue(t *testing.T) {
	customImage := awsecs.EcsOptimizedImage_AmazonLinux2(awsecs.AmiHardwareType_STANDARD, nil)
	runInvalid(t, []invalidCase{
		{"capacity minimum above maximum", clusterWith("Small", passthrough.ClusterProps{EC2: &passthrough.EC2CapacityProps{MinCapacity: jsii.Number(5), MaxCapacity: jsii.Number(3)}}), "passthrough: Test/Small: EC2.MaxCapacity 3: is below EC2.MinCapacity 5"},
		{"existing cluster together with a VPC", vpcAndExistingCluster, "passthrough: Test/Both: Vpc: cannot be set together with Cluster: the VPC is the existing cluster's"},
		{"no NAT gateway and no endpoints", clusterWith("Offline", passthrough.ClusterProps{NatGateways: jsii.Number(0)}), "passthrough: Test/Offline: NatGateways 0: leaves tasks no way to pull images, read secrets or write logs; set VpcEndpoints too"},
		{"NAT gateways with an existing VPC", natGatewaysInAnExistingVpc, "passthrough: Test/Mixed: NatGateways: VpcEndpoints and DualStack shape a new VPC; they cannot be set together with Vpc"},
		{"custom machine image without its host port range", clusterWith("Custom", passthrough.ClusterProps{EC2: &passthrough.EC2CapacityProps{MachineImage: customImage}}), "passthrough: Test/Custom: EC2.HostPortRange: is required with EC2.MachineImage: the cluster writes the range to /etc/ecs/ecs.config, which only the ECS-optimized Amazon Linux AMIs are known to read; state the range the image's ECS agent hands out (ECS_DYNAMIC_HOST_PORT_RANGE), so that the security group opens exactly it"},
		{"a host port range on a new cluster", clusterWith("New", passthrough.ClusterProps{HostPortRange: &passthrough.PortRange{Low: 30000, High: 32767}}), "passthrough: Test/New: HostPortRange: is only for an existing Cluster; new EC2 capacity takes EC2.HostPortRange"},
		{"a host port range that ends before it starts", func(f *fixture) { existingCluster(f.cluster, 1, &passthrough.PortRange{Low: 32767, High: 30000}) }, "passthrough: Test/Shared: HostPortRange 32767-30000: starts above its end"},
		{"a host port out of range", clusterWith("Custom", passthrough.ClusterProps{EC2: &passthrough.EC2CapacityProps{HostPortRange: &passthrough.PortRange{Low: 0, High: 1000}}}), "passthrough: Test/Custom: EC2.HostPortRange.Low 0: must be a whole number from 1 to 65535"},
		{"EC2 service on an existing cluster without its host port range", ec2With(func(p *ec2Props) { p.Cluster = existingCluster(p.Cluster, 1, nil) }), "passthrough: Test/Api: Cluster Test/Shared: is an existing cluster whose dynamic host port range is not known; set ClusterProps.HostPortRange to the range its instances' ECS agent hands out (ECS_DYNAMIC_HOST_PORT_RANGE, or the kernel's ip_local_port_range when unset: 32768-60999 on Amazon Linux), so that EC2 services open exactly it"},
		// An existing cluster must expose its instance security group for
		// EC2 services; one imported without it is reported, not silently
		// unreachable.
		{"EC2 service on an existing cluster without its security group", ec2With(func(p *ec2Props) { p.Cluster = existingCluster(p.Cluster, 0, nil) }), "passthrough: Test/Api: Cluster Test/Shared: is an existing cluster with 0 instance security groups; import it with exactly one (awsecs.ClusterAttributes.SecurityGroups) so that EC2 services can admit the load balancer on the dynamic port range"},
	})
}

func vpcAndExistingCluster(f *fixture) {
	passthrough.NewCluster(f.stack, jsii.String("Both"), &passthrough.ClusterProps{Vpc: f.cluster.Vpc, Cluster: f.cluster.ECS})
}

func natGatewaysInAnExistingVpc(f *fixture) {
	passthrough.NewCluster(f.stack, jsii.String("Mixed"), &passthrough.ClusterProps{Vpc: f.cluster.Vpc, NatGateways: jsii.Number(2)})
}

// existingCluster is a Cluster "Shared" for an ECS cluster imported into the
// stack of in, in its VPC, with groups instance security groups and ports
// as its host port range.
func existingCluster(in *passthrough.Cluster, groups int, ports *passthrough.PortRange) *passthrough.Cluster {
	stack := awscdk.Stack_Of(in)
	var sgs []awsec2.ISecurityGroup
	for range groups {
		sgs = append(sgs, awsec2.NewSecurityGroup(stack, jsii.String("Instances"), &awsec2.SecurityGroupProps{Vpc: in.Vpc}))
	}
	imported := awsecs.Cluster_FromClusterAttributes(stack, jsii.String("Imported"), &awsecs.ClusterAttributes{
		ClusterName:    jsii.String("shared"),
		Vpc:            in.Vpc,
		SecurityGroups: &sgs,
	})
	return passthrough.NewCluster(stack, jsii.String("Shared"), &passthrough.ClusterProps{Cluster: imported, HostPortRange: ports})
}
