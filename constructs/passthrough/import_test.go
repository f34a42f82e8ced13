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
	runInvalid(t, []invalidCase{
		{"nil attributes", func(f *fixture) { passthrough.ImportLoadBalancer(f.stack, jsii.String("Shared"), nil) }, "passthrough: Test/Shared: LoadBalancerARN: is required"},
		{"no security group", importWith(func(a *attributes) { a.SecurityGroupID = nil }), "passthrough: Test/Shared: SecurityGroupID: is required"},
		{"no VPC", importWith(func(a *attributes) { a.Vpc = nil }), "passthrough: Test/Shared: Vpc: is required"},
		{"no clients", importWith(func(a *attributes) { a.AllowedClients = nil }), "passthrough: Test/Shared: AllowedClients: is required: name the clients admitted to this app's listener ports"},
		{"a port in use out of range", importWith(func(a *attributes) { a.ListenerPortsInUse = []float64{443, 0} }), "passthrough: Test/Shared: ListenerPortsInUse 0: must be a whole number from 1 to 65535"},
		{"a listener port the owning app uses", serviceOnImported([]float64{443, 8443}, 8443), "passthrough: Test/Api: ListenerPort 8443: is already used by a service of the app that owns it (ListenerPortsInUse) on load balancer Test/Shared; give each service its own listener port"},
		{"a listener over the quota, counting the owning app's", serviceOnImported(ports(2000, 50), 443), "passthrough: Test/Api: ListenerPort 443: would be listener 51 on load balancer Test/Shared, over the quota of 50 listeners per Network Load Balancer"},
	})
}

// attributes are what importWith changes.
type attributes = passthrough.LoadBalancerAttributes

// importWith imports load balancer "Shared" with the attributes of
// importShared changed by set.
func importWith(set func(a *attributes)) func(f *fixture) {
	return func(f *fixture) {
		a := attributes{
			LoadBalancerARN: jsii.String(importedArn),
			SecurityGroupID: jsii.String(importedGroup),
			Vpc:             f.cluster.Vpc,
			AllowedClients:  []awsec2.IPeer{awsec2.Peer_Ipv4(jsii.String("203.0.113.0/24"))},
		}
		set(&a)
		passthrough.ImportLoadBalancer(f.stack, jsii.String("Shared"), &a)
	}
}

// serviceOnImported attaches the Fargate service "Api" on port to a load
// balancer imported with the owning app's listener ports inUse.
func serviceOnImported(inUse []float64, port float64) func(f *fixture) {
	return func(f *fixture) {
		f.lb = importShared(f, passthrough.LoadBalancerAttributes{ListenerPortsInUse: inUse})
		f.fargate("Api", port)
	}
}

// ports are n ports from first on.
func ports(first float64, n int) []float64 {
	var out []float64
	for i := range n {
		out = append(out, first+float64(i))
	}
	return out
}
