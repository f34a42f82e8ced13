package passthrough_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
)

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

func TestHostPortRangeRefusesWhatCannotWork(t *testing.T) {
	existing := func(f *fixture, ports *passthrough.PortRange) *passthrough.Cluster {
		instances := awsec2.NewSecurityGroup(f.stack, jsii.String("Instances"), &awsec2.SecurityGroupProps{Vpc: f.cluster.Vpc})
		imported := awsecs.Cluster_FromClusterAttributes(f.stack, jsii.String("Imported"), &awsecs.ClusterAttributes{
			ClusterName:    jsii.String("shared"),
			Vpc:            f.cluster.Vpc,
			SecurityGroups: &[]awsec2.ISecurityGroup{instances},
		})
		return passthrough.NewCluster(f.stack, jsii.String("Shared"), &passthrough.ClusterProps{Cluster: imported, HostPortRange: ports})
	}
	cases := []invalidCase{
		{
			name: "custom machine image without its range",
			build: func(f *fixture) {
				passthrough.NewCluster(f.stack, jsii.String("Custom"), &passthrough.ClusterProps{EC2: &passthrough.EC2CapacityProps{
					MachineImage: awsecs.EcsOptimizedImage_AmazonLinux2(awsecs.AmiHardwareType_STANDARD, nil),
				}})
			},
			want: "passthrough: Test/Custom: EC2.HostPortRange: is required with EC2.MachineImage: the cluster writes the range to /etc/ecs/ecs.config, which only the ECS-optimized Amazon Linux AMIs are known to read; state the range the image's ECS agent hands out (ECS_DYNAMIC_HOST_PORT_RANGE), so that the security group opens exactly it",
		},
		{
			name: "EC2 service on an existing cluster without its range",
			build: func(f *fixture) {
				p := f.service(443)
				p.Cluster = existing(f, nil)
				passthrough.NewEC2Service(f.stack, jsii.String("Api"), &passthrough.EC2ServiceProps{ServiceProps: p})
			},
			want: "passthrough: Test/Api: Cluster Test/Shared: is an existing cluster whose dynamic host port range is not known; set ClusterProps.HostPortRange to the range its instances' ECS agent hands out (ECS_DYNAMIC_HOST_PORT_RANGE, or the kernel's ip_local_port_range when unset: 32768-60999 on Amazon Linux), so that EC2 services open exactly it",
		},
		{
			name: "a range on a new cluster",
			build: func(f *fixture) {
				passthrough.NewCluster(f.stack, jsii.String("New"), &passthrough.ClusterProps{HostPortRange: &passthrough.PortRange{Low: 30000, High: 32767}})
			},
			want: "passthrough: Test/New: HostPortRange: is only for an existing Cluster; new EC2 capacity takes EC2.HostPortRange",
		},
		{
			name:  "a range that ends before it starts",
			build: func(f *fixture) { existing(f, &passthrough.PortRange{Low: 32767, High: 30000}) },
			want:  "passthrough: Test/Shared: HostPortRange 32767-30000: starts above its end",
		},
		{
			name: "a port out of range",
			build: func(f *fixture) {
				passthrough.NewCluster(f.stack, jsii.String("Custom"), &passthrough.ClusterProps{EC2: &passthrough.EC2CapacityProps{HostPortRange: &passthrough.PortRange{Low: 0, High: 1000}}})
			},
			want: "passthrough: Test/Custom: EC2.HostPortRange.Low 0: must be a whole number from 1 to 65535",
		},
	}
	runInvalid(t, cases)
}
