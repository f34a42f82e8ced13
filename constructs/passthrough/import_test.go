package passthrough_test

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
)

const (
	importedArn   = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/net/shared/0123456789abcdef"
	importedGroup = "sg-0123456789abcdef0"
)

func importShared(f *fixture, attrs passthrough.LoadBalancerAttributes) *passthrough.LoadBalancer {
	attrs.LoadBalancerARN = jsii.String(importedArn)
	attrs.SecurityGroupID = jsii.String(importedGroup)
	attrs.Vpc = f.cluster.Vpc
	if attrs.AllowedClients == nil {
		attrs.AllowedClients = []awsec2.IPeer{awsec2.Peer_Ipv4(jsii.String("203.0.113.0/24"))}
	}
	return passthrough.ImportLoadBalancer(f.stack, jsii.String("Shared"), &attrs)
}

// A service of this app attaches its listener and target group to another
// app's load balancer; every rule it needs is a separate resource of this
// stack, on the load balancer's group by its ID.
func TestServiceAttachesToAnImportedLoadBalancer(t *testing.T) {
	f := newFixture(t, false)
	f.lb = importShared(f, passthrough.LoadBalancerAttributes{})
	api := f.fargate("Api", 8443)
	tpl := f.template(t)
	tasks := logicalID(t, f.stack, api.SecurityGroup)

	tpl.CountWith(typeLoadBalancer, map[string]any{"LoadBalancerArn": importedArn}, 0)
	tpl.Count(typeLoadBalancer, 1) // the fixture's own
	tpl.Has(typeListener, map[string]any{"LoadBalancerArn": importedArn, "Port": 8443, "Protocol": "TCP"})
	tpl.Has(typeIngress, map[string]any{
		"GroupId":    importedGroup,
		"CidrIp":     "203.0.113.0/24",
		"IpProtocol": "tcp",
		"FromPort":   8443,
		"ToPort":     8443,
	})
	tpl.Has(typeEgress, map[string]any{
		"GroupId":                    importedGroup,
		"DestinationSecurityGroupId": getAtt(tasks, "GroupId"),
		"FromPort":                   8443,
		"ToPort":                     8443,
	})
	tpl.Has(typeIngress, map[string]any{
		"GroupId":               getAtt(tasks, "GroupId"),
		"SourceSecurityGroupId": importedGroup,
		"FromPort":              8443,
		"ToPort":                8443,
	})
}

// GrantConnect reaches an imported load balancer by the private name its
// owner published.
func TestGrantConnectToAnImportedLoadBalancer(t *testing.T) {
	f := newFixture(t, false)
	f.lb = importShared(f, passthrough.LoadBalancerAttributes{PrivateDNSName: jsii.String("shared.internal.example")})
	callee := f.fargate("Callee", 9443)
	f.lb = passthrough.NewLoadBalancer(f.stack, jsii.String("Own"), &passthrough.LoadBalancerProps{Vpc: f.cluster.Vpc, InternetFacing: jsii.Bool(false)})
	caller := f.fargate("Caller", 443)
	callee.GrantConnect(caller, "CALLEE_ADDRESS")
	tpl := f.template(t)
	if got := envOf(t, f, tpl, caller)["CALLEE_ADDRESS"]; got != "shared.internal.example:9443" {
		t.Errorf("CALLEE_ADDRESS = %v", got)
	}
	tpl.Has(typeIngress, map[string]any{
		"GroupId":               importedGroup,
		"SourceSecurityGroupId": getAtt(logicalID(t, f.stack, caller.SecurityGroup), "GroupId"),
		"FromPort":              9443,
	})
}

func TestImportLoadBalancerRefusesWhatCannotWork(t *testing.T) {
	cases := []invalidCase{
		{
			name:  "nil attributes",
			build: func(f *fixture) { passthrough.ImportLoadBalancer(f.stack, jsii.String("Shared"), nil) },
			want:  "passthrough: Test/Shared: LoadBalancerARN: is required",
		},
		{
			name: "no security group",
			build: func(f *fixture) {
				passthrough.ImportLoadBalancer(f.stack, jsii.String("Shared"), &passthrough.LoadBalancerAttributes{LoadBalancerARN: jsii.String(importedArn), Vpc: f.cluster.Vpc})
			},
			want: "passthrough: Test/Shared: SecurityGroupID: is required",
		},
		{
			name: "no VPC",
			build: func(f *fixture) {
				passthrough.ImportLoadBalancer(f.stack, jsii.String("Shared"), &passthrough.LoadBalancerAttributes{
					LoadBalancerARN: jsii.String(importedArn), SecurityGroupID: jsii.String(importedGroup),
				})
			},
			want: "passthrough: Test/Shared: Vpc: is required",
		},
		{
			name: "no clients",
			build: func(f *fixture) {
				passthrough.ImportLoadBalancer(f.stack, jsii.String("Shared"), &passthrough.LoadBalancerAttributes{
					LoadBalancerARN: jsii.String(importedArn), SecurityGroupID: jsii.String(importedGroup), Vpc: f.cluster.Vpc,
				})
			},
			want: "passthrough: Test/Shared: AllowedClients: is required: name the clients admitted to this app's listener ports",
		},
		{
			name: "a port in use out of range",
			build: func(f *fixture) {
				importShared(f, passthrough.LoadBalancerAttributes{ListenerPortsInUse: []float64{443, 0}})
			},
			want: "passthrough: Test/Shared: ListenerPortsInUse 0: must be a whole number from 1 to 65535",
		},
		{
			name: "a listener port the owning app uses",
			build: func(f *fixture) {
				f.lb = importShared(f, passthrough.LoadBalancerAttributes{ListenerPortsInUse: []float64{443, 8443}})
				f.fargate("Api", 8443)
			},
			want: "passthrough: Test/Api: ListenerPort 8443: is already used by a service of the app that owns it (ListenerPortsInUse) on load balancer Test/Shared; give each service its own listener port",
		},
		{
			name: "a listener over the quota, counting the owning app's",
			build: func(f *fixture) {
				var used []float64
				for i := range passthrough.MaxListeners {
					used = append(used, float64(2000+i))
				}
				f.lb = importShared(f, passthrough.LoadBalancerAttributes{ListenerPortsInUse: used})
				f.fargate("Api", 443)
			},
			want: "passthrough: Test/Api: ListenerPort 443: would be listener 51 on load balancer Test/Shared, over the quota of 50 listeners per Network Load Balancer",
		},
	}
	runInvalid(t, cases)
}
