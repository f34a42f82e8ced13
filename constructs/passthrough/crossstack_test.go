package passthrough_test

import (
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
	"github.com/passthrough-cdk/passthrough/internal/cdktest"
)

// referenceStrengths are the two ways aws-cdk-lib writes a reference from
// one stack to another: weak (Fn::GetStackOutput on an output of the
// producing stack, as this repository's cdk.json configures) and strong
// (Fn::ImportValue of an export, aws-cdk-lib's default).
var referenceStrengths = []struct {
	name string
	ctx  map[string]any
}{
	{"weak references", map[string]any{"@aws-cdk/core:defaultCrossStackReferences": "weak"}},
	{"strong references", nil},
}

// networkApp is the documented split: a "Net" stack owns a cluster with VPC
// endpoints (as architecture 1's Fargate example has), optionally EC2
// capacity, an internal load balancer and one service of its own, "Local"
// on 9443; consumers adds services in stacks of their own.
type networkApp struct {
	app     awscdk.App
	net     awscdk.Stack
	cluster *passthrough.Cluster
	lb      *passthrough.LoadBalancer
	local   *passthrough.Service
	ec2     bool
}

func newNetworkApp(t *testing.T, ctx map[string]any, ec2 bool) *networkApp {
	t.Helper()
	a := &networkApp{app: cdktest.NewApp(t, ctx), ec2: ec2}
	a.net = awscdk.NewStack(a.app, jsii.String("Net"), nil)
	props := &passthrough.ClusterProps{VpcEndpoints: jsii.Bool(true)}
	if ec2 {
		props.EC2 = &passthrough.EC2CapacityProps{}
	}
	a.cluster = passthrough.NewCluster(a.net, jsii.String("Cluster"), props)
	a.lb = passthrough.NewLoadBalancer(a.net, jsii.String("LB"), &passthrough.LoadBalancerProps{Vpc: a.cluster.Vpc, InternetFacing: jsii.Bool(false)})
	a.local = passthrough.NewFargateService(a.net, jsii.String("Local"), &passthrough.FargateServiceProps{ServiceProps: passthrough.ServiceProps{
		Cluster: a.cluster, LoadBalancer: a.lb, Image: awsecsImage(), ListenerPort: jsii.Number(9443),
	}})
	return a
}

// service adds service "Api" on port in a new stack called stack, on EC2
// when the app has EC2 capacity.
func (a *networkApp) service(stack string, port float64) *passthrough.Service {
	s := awscdk.NewStack(a.app, jsii.String(stack), nil)
	p := passthrough.ServiceProps{Cluster: a.cluster, LoadBalancer: a.lb, Image: awsecsImage(), ListenerPort: jsii.Number(port)}
	if a.ec2 {
		return passthrough.NewEC2Service(s, jsii.String("Api"), &passthrough.EC2ServiceProps{ServiceProps: p})
	}
	return passthrough.NewFargateService(s, jsii.String("Api"), &passthrough.FargateServiceProps{ServiceProps: p})
}

// templates synthesizes the app and returns every stack's template by name.
func (a *networkApp) templates(t *testing.T) map[string]map[string]any {
	t.Helper()
	assembly := cdktest.Synth(t, a.app)
	out := map[string]map[string]any{}
	for _, s := range *assembly.Stacks() {
		out[*s.StackName()] = s.Template().(map[string]any)
	}
	return out
}

// The documented network stack split synthesizes with a cluster that has
// VPC endpoints: the rules that let a service's tasks reach the endpoints
// are in the service's stack, and the network stack refers to no service
// stack, with either reference strength.
func TestNetworkStackSplitWithVpcEndpoints(t *testing.T) {
	for _, rs := range referenceStrengths {
		t.Run(rs.name, func(t *testing.T) {
			a := newNetworkApp(t, rs.ctx, false)
			api := a.service("Svc", 443)
			api.GrantConnect(a.local, "API_ADDRESS") // the network stack's service calls the service stack's
			a.local.GrantConnect(api, "LOCAL_ADDRESS")
			tpls := a.templates(t)
			if refs := crossStackRefs(t, tpls["Net"]); len(refs) != 0 {
				t.Errorf("the network stack references %v", refs)
			}
			svc := cdktest.TemplateFromJSON(t, tpls["Svc"])
			raw := jsonString(tpls["Svc"])
			svc.CountWith(typeIngress, map[string]any{"Description": "HTTPS to AWS through the VPC endpoints", "FromPort": 443, "ToPort": 443}, 1)
			svc.CountWith(typeEgress, map[string]any{"Description": "HTTPS to AWS through the VPC endpoints", "FromPort": 443, "ToPort": 443}, 1)
			if !strings.Contains(raw, "EndpointSecurityGroup") {
				t.Error("the service's endpoint rule does not name the network stack's endpoint security group")
			}
		})
	}
}

// outputsOf lists a template's output IDs and whether each is exported.
func outputsOf(tpl map[string]any) (ids []string, exported int) {
	outs, _ := tpl["Outputs"].(map[string]any)
	for id, o := range outs {
		ids = append(ids, id)
		if _, ok := o.(map[string]any)["Export"]; ok {
			exported++
		}
	}
	sort.Strings(ids)
	return ids, exported
}

// resourceIDs lists a template's logical IDs.
func resourceIDs(tpl map[string]any) []string {
	var ids []string
	for id := range tpl["Resources"].(map[string]any) {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// added lists what is in b and not in a.
func added(a, b []string) []string {
	var out []string
	for _, x := range b {
		if !slices.Contains(a, x) {
			out = append(out, x)
		}
	}
	return out
}

// What the README says changes in the network stack when a service in
// another stack is added: for a Fargate service, outputs only (exports with
// strong references), the same for the first service and every further
// one; for the first EC2 service of a cluster on a load balancer, the rule
// pair between the load balancer's and the instances' groups, since they
// are both the network stack's; for an EC2 caller of GrantConnect, both of
// its rules; a Fargate caller's rules are in the caller's stack.
func TestWhatServicesInOtherStacksChangeInTheNetworkStack(t *testing.T) {
	for _, rs := range referenceStrengths {
		t.Run(rs.name, func(t *testing.T) {
			net := func(ec2 bool, build func(a *networkApp)) map[string]any {
				a := newNetworkApp(t, rs.ctx, ec2)
				build(a)
				return a.templates(t)["Net"]
			}
			alone := net(false, func(*networkApp) {})
			one := net(false, func(a *networkApp) { a.service("Svc1", 443) })
			two := net(false, func(a *networkApp) { a.service("Svc1", 443); a.service("Svc2", 8443) })
			caller := net(false, func(a *networkApp) { a.local.GrantConnect(a.service("Svc1", 443), "LOCAL_ADDRESS") })

			if got := added(resourceIDs(alone), resourceIDs(one)); len(got) != 0 || len(resourceIDs(alone)) != len(resourceIDs(one)) {
				t.Errorf("a Fargate service in another stack adds resources to the network stack: %v", got)
			}
			aloneOuts, _ := outputsOf(alone)
			oneOuts, exported := outputsOf(one)
			newOuts := added(aloneOuts, oneOuts)
			if len(newOuts) != 8 {
				t.Errorf("the first Fargate service in another stack adds %d outputs to the network stack, want 8 (README): %v", len(newOuts), newOuts)
			}
			wantExported := 0
			if rs.ctx == nil {
				wantExported = len(newOuts)
			}
			if exported != wantExported {
				t.Errorf("%d exported outputs, want %d", exported, wantExported)
			}
			if jsonString(one) != jsonString(two) {
				t.Error("a second Fargate service in another stack changes the network stack")
			}
			if jsonString(resourceIDs(caller)) != jsonString(resourceIDs(alone)) {
				t.Errorf("a Fargate caller in another stack adds resources to the network stack: %v", added(resourceIDs(alone), resourceIDs(caller)))
			}
			callerOuts, _ := outputsOf(caller)
			if got := added(oneOuts, callerOuts); len(got) != 1 || !strings.Contains(got[0], "DNSName") {
				t.Errorf("a Fargate caller in another stack adds outputs %v to the network stack, want the load balancer's DNS name", got)
			}

			ec2Alone := net(true, func(*networkApp) {})
			ec2One := net(true, func(a *networkApp) { a.service("Svc1", 443) })
			ec2Two := net(true, func(a *networkApp) { a.service("Svc1", 443); a.service("Svc2", 8443) })
			ec2Caller := net(true, func(a *networkApp) { a.local.GrantConnect(a.service("Svc1", 443), "LOCAL_ADDRESS") })
			rules := added(resourceIDs(ec2Alone), resourceIDs(ec2One))
			ec2AloneOuts, _ := outputsOf(ec2Alone)
			ec2OneOuts, _ := outputsOf(ec2One)
			if len(added(ec2AloneOuts, ec2OneOuts)) == 0 {
				t.Error("the first EC2 service in another stack adds no output to the network stack")
			}
			if len(rules) != 2 || !strings.Contains(strings.Join(rules, " "), "ClusterInstanceSecurityGroupfromNetLBSecurityGroup") {
				t.Errorf("the first EC2 service in another stack adds %v to the network stack, want the rule pair between the load balancer's and the instances' groups", rules)
			}
			if jsonString(resourceIDs(ec2One)) != jsonString(resourceIDs(ec2Two)) {
				t.Errorf("a second EC2 service adds %v to the network stack", added(resourceIDs(ec2One), resourceIDs(ec2Two)))
			}
			grant := added(resourceIDs(ec2One), resourceIDs(ec2Caller))
			if len(grant) != 2 || !strings.Contains(strings.Join(grant, " "), "LBSecurityGroupfromNetClusterInstanceSecurityGroup") {
				t.Errorf("an EC2 caller in another stack adds %v to the network stack, want both of GrantConnect's rules", grant)
			}
		})
	}
}
