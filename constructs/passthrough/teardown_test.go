package passthrough_test

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
	"github.com/passthrough-cdk/passthrough/internal/cdktest"
)

// egressIDs are the logical IDs of a template's VPC endpoints and of its
// routes to NAT gateways: how tasks and instances reach AWS.
func egressIDs(tpl *cdktest.Template) []string {
	var ids []string
	for id := range tpl.Resources("AWS::EC2::VPCEndpoint") {
		ids = append(ids, id)
	}
	for id, r := range tpl.Resources("AWS::EC2::Route") {
		if r["NatGatewayId"] != nil {
			ids = append(ids, id)
		}
	}
	return ids
}

// wantDependsOnAll fails unless the resource id depends on every one of
// ids.
func wantDependsOnAll(t *testing.T, tpl *cdktest.Template, what, id string, ids []string) {
	t.Helper()
	deps := dependsOn(t, tpl, id)
	for _, e := range ids {
		if !deps[e] {
			t.Errorf("%s %s does not depend on %s", what, id, e)
		}
	}
}

// CloudFormation deletes a resource before what it depends on: the EC2
// capacity and every service depend on the VPC endpoints and the NAT routes
// they reach AWS through, so a stack deletion keeps the ECS agent's path to
// ECS until tasks have stopped and instances drained, and a creation starts
// no task before it can pull its image.
func TestCapacityAndServicesWaitForTheirWayToAWS(t *testing.T) {
	for _, tc := range []struct {
		name      string
		props     passthrough.ClusterProps
		endpoints int
		routes    int
	}{
		{"EC2 without NAT, through VPC endpoints", passthrough.ClusterProps{EC2: &passthrough.EC2CapacityProps{}, NatGateways: jsii.Number(0), VpcEndpoints: jsii.Bool(true)}, 8, 0},
		{"EC2 through NAT", passthrough.ClusterProps{EC2: &passthrough.EC2CapacityProps{}}, 0, 2},
		{"Fargate through VPC endpoints and NAT", passthrough.ClusterProps{VpcEndpoints: jsii.Bool(true)}, 5, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stack := cdktest.NewStack(t)
			cluster := passthrough.NewCluster(stack, jsii.String("Cluster"), &tc.props)
			lb := passthrough.NewLoadBalancer(stack, jsii.String("LB"), &passthrough.LoadBalancerProps{Vpc: cluster.Vpc})
			p := passthrough.ServiceProps{Cluster: cluster, LoadBalancer: lb, Image: awsecsImage()}
			var svc *passthrough.Service
			if tc.props.EC2 != nil {
				svc = passthrough.NewEC2Service(stack, jsii.String("Api"), &passthrough.EC2ServiceProps{ServiceProps: p})
			} else {
				svc = passthrough.NewFargateService(stack, jsii.String("Api"), &passthrough.FargateServiceProps{ServiceProps: p})
			}
			tpl := cdktest.TemplateOf(t, stack)
			egress := egressIDs(tpl)
			if len(egress) != tc.endpoints+tc.routes {
				t.Fatalf("%d endpoints and NAT routes, want %d", len(egress), tc.endpoints+tc.routes)
			}
			wantDependsOnAll(t, tpl, "ECS service", logicalID(t, stack, svc.Service), egress)
			if cluster.AutoScalingGroup != nil {
				wantDependsOnAll(t, tpl, "Auto Scaling group", logicalID(t, stack, cluster.AutoScalingGroup), egress)
			}
		})
	}
}

// A VPC given to the cluster and defined in the app (another cluster's, in
// architecture 2) has its NAT routes waited for too; an imported VPC's
// routes are its owner's, and the service synthesizes without them.
func TestGivenVpcsNATRoutesAreWaitedFor(t *testing.T) {
	stack := cdktest.NewStack(t)
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{MaxAzs: jsii.Number(2), NatGateways: jsii.Number(1)})
	imported := awsec2.Vpc_FromVpcAttributes(stack, jsii.String("ImportedVpc"), &awsec2.VpcAttributes{
		VpcId:             jsii.String("vpc-0123456789abcdef0"),
		VpcCidrBlock:      jsii.String("10.1.0.0/16"),
		AvailabilityZones: jsii.Strings("eu-west-1a", "eu-west-1b"),
		PrivateSubnetIds:  jsii.Strings("subnet-1", "subnet-2"),
	})
	var services []*passthrough.Service
	for i, v := range []awsec2.IVpc{vpc, imported} {
		id := []string{"Given", "Imported"}[i]
		cluster := passthrough.NewCluster(stack, jsii.String(id+"Cluster"), &passthrough.ClusterProps{Vpc: v})
		lb := passthrough.NewLoadBalancer(stack, jsii.String(id+"LB"), &passthrough.LoadBalancerProps{Vpc: v, InternetFacing: jsii.Bool(false)})
		services = append(services, passthrough.NewFargateService(stack, jsii.String(id), &passthrough.FargateServiceProps{ServiceProps: passthrough.ServiceProps{Cluster: cluster, LoadBalancer: lb, Image: awsecsImage()}}))
	}
	tpl := cdktest.TemplateOf(t, stack)
	routes := egressIDs(tpl)
	if len(routes) != 2 {
		t.Fatalf("%d NAT routes, want 2", len(routes))
	}
	wantDependsOnAll(t, tpl, "ECS service", logicalID(t, stack, services[0].Service), routes)
}
