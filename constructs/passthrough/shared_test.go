package passthrough_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
	"github.com/passthrough-cdk/passthrough/internal/cdktest"
)

// sharedApp is an app with a "Network" stack that owns a cluster, an
// internal load balancer and one service on it, and a "Services" stack whose
// service attaches its own listener and target group to that load balancer
// and calls the Network stack's service.
type sharedApp struct {
	app           awscdk.App
	network, svcs awscdk.Stack
	local, api    *passthrough.Service
	loadBalancer  *passthrough.LoadBalancer
	cluster       *passthrough.Cluster
}

func newSharedApp(t *testing.T, ctx map[string]any) *sharedApp {
	t.Helper()
	a := &sharedApp{app: cdktest.NewApp(t, ctx)}
	a.network = awscdk.NewStack(a.app, jsii.String("Network"), nil)
	a.svcs = awscdk.NewStack(a.app, jsii.String("Services"), nil)
	cluster := passthrough.NewCluster(a.network, jsii.String("Cluster"), nil)
	a.cluster = cluster
	a.loadBalancer = passthrough.NewLoadBalancer(a.network, jsii.String("LB"), &passthrough.LoadBalancerProps{Vpc: cluster.Vpc, InternetFacing: jsii.Bool(false)})
	a.local = passthrough.NewFargateService(a.network, jsii.String("Local"), &passthrough.FargateServiceProps{ServiceProps: passthrough.ServiceProps{
		Cluster: cluster, LoadBalancer: a.loadBalancer, Image: awsecsImage(), ListenerPort: jsii.Number(9443),
	}})
	a.api = passthrough.NewFargateService(a.svcs, jsii.String("Api"), &passthrough.FargateServiceProps{ServiceProps: passthrough.ServiceProps{
		Cluster: cluster, LoadBalancer: a.loadBalancer, Image: awsecsImage(),
	}})
	a.local.GrantConnect(a.api, "LOCAL_ADDRESS")
	return a
}

// crossStackRefs returns, per stack name, the stacks a template reads
// outputs or exports of.
func crossStackRefs(t *testing.T, template any) []string {
	t.Helper()
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if o, ok := v["Fn::GetStackOutput"].(map[string]any); ok {
				out = append(out, fmt.Sprint(o["StackName"]))
			}
			if name, ok := v["Fn::ImportValue"].(string); ok {
				out = append(out, strings.SplitN(name, ":", 2)[0])
			}
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(template)
	return out
}

// A service in another stack of the same app attaches to the load balancer
// and calls a service of the load balancer's stack; the references run one
// way, from the service's stack to the load balancer's, with weak references
// (Fn::GetStackOutput, as cdk.json configures) and strong ones
// (Fn::ImportValue, aws-cdk-lib's default).
func TestServiceInAnotherStackReferencesTheLoadBalancerOneWay(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ctx    map[string]any
		intrin string
	}{
		{"weak references", cdktest.AppContext(t), "Fn::GetStackOutput"},
		{"strong references", nil, "Fn::ImportValue"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newSharedApp(t, tc.ctx)
			assembly := cdktest.Synth(t, a.app)
			network := assembly.GetStackByName(jsii.String("Network"))
			services := assembly.GetStackByName(jsii.String("Services"))

			if refs := crossStackRefs(t, network.Template()); len(refs) != 0 {
				t.Errorf("the load balancer's stack references %v", refs)
			}
			raw, _ := json.Marshal(network.Template())
			if strings.Contains(string(raw), "Services") || strings.Contains(string(raw), "Api") {
				t.Errorf("the load balancer's stack names the service's stack or service")
			}
			refs := crossStackRefs(t, services.Template())
			if len(refs) == 0 {
				t.Error("the service's stack references nothing of the load balancer's")
			}
			for _, r := range refs {
				if r != "Network" {
					t.Errorf("the service's stack references stack %s", r)
				}
			}
			svcRaw, _ := json.Marshal(services.Template())
			if !strings.Contains(string(svcRaw), `"`+tc.intrin+`"`) {
				t.Errorf("the service's stack does not use %s", tc.intrin)
			}
			var networkDeps, serviceDeps []string
			for _, d := range *network.Dependencies() {
				networkDeps = append(networkDeps, *d.Id())
			}
			for _, d := range *services.Dependencies() {
				serviceDeps = append(serviceDeps, *d.Id())
			}
			if strings.Contains(strings.Join(networkDeps, " "), "Services") {
				t.Errorf("the load balancer's stack depends on %v", networkDeps)
			}
			if !strings.Contains(strings.Join(serviceDeps, " "), "Network") {
				t.Errorf("the service's stack depends on %v, not on the load balancer's stack", serviceDeps)
			}

			// The service's listener, client rule and both sides of its
			// call are in its own stack.
			tpl := cdktest.TemplateFromJSON(t, services.Template().(map[string]any))
			tpl.Count(typeListener, 1)
			tpl.Count(typeLoadBalancer, 0)
			tpl.CountWith(typeIngress, map[string]any{"Description": "Passthrough listener", "FromPort": 443}, 1)
			tpl.CountWith(typeIngress, map[string]any{"Description": "Passthrough Api to Local", "FromPort": 9443}, 1)
			tpl.CountWith(typeEgress, map[string]any{"Description": "Passthrough Api to Local", "FromPort": 9443}, 1)
		})
	}
}

// A service of the load balancer's stack calling a service whose load
// balancer is in the other stack makes each stack reference the other,
// which CloudFormation cannot deploy: synthesis refuses it.
func TestMutualGrantsAcrossStacksAreACycle(t *testing.T) {
	a := newSharedApp(t, cdktest.AppContext(t))
	lb := passthrough.NewLoadBalancer(a.svcs, jsii.String("LB"), &passthrough.LoadBalancerProps{Vpc: a.cluster.Vpc, InternetFacing: jsii.Bool(false)})
	billing := passthrough.NewFargateService(a.svcs, jsii.String("Billing"), &passthrough.FargateServiceProps{ServiceProps: passthrough.ServiceProps{
		Cluster: a.cluster, LoadBalancer: lb, Image: awsecsImage(),
	}})
	billing.GrantConnect(a.local, "BILLING_ADDRESS")
	defer func() {
		r := recover()
		if r == nil {
			t.Fatal("synthesis succeeded with stacks that reference each other")
		}
		if msg := fmt.Sprint(r); !strings.Contains(msg, "cyclic") {
			t.Errorf("synthesis failed with %.300s, want a cyclic reference error", msg)
		}
	}()
	a.app.Synth(nil)
}

// With a network stack that owns both load balancers, two service stacks
// can call each other: each references the network stack only.
func TestMutualGrantsThroughANetworkStackAreNoCycle(t *testing.T) {
	app := cdktest.NewApp(t, cdktest.AppContext(t))
	network := awscdk.NewStack(app, jsii.String("Network"), nil)
	cluster := passthrough.NewCluster(network, jsii.String("Cluster"), nil)
	services := map[string]*passthrough.Service{}
	for _, name := range []string{"Orders", "Billing"} {
		lb := passthrough.NewLoadBalancer(network, jsii.String(name+"LB"), &passthrough.LoadBalancerProps{Vpc: cluster.Vpc, InternetFacing: jsii.Bool(false)})
		stack := awscdk.NewStack(app, jsii.String(name), nil)
		services[name] = passthrough.NewFargateService(stack, jsii.String(name), &passthrough.FargateServiceProps{ServiceProps: passthrough.ServiceProps{
			Cluster: cluster, LoadBalancer: lb, Image: awsecsImage(),
		}})
	}
	services["Billing"].GrantConnect(services["Orders"], "BILLING_ADDRESS")
	services["Orders"].GrantConnect(services["Billing"], "ORDERS_ADDRESS")
	assembly := cdktest.Synth(t, app)
	for name, want := range map[string][]string{"Network": nil, "Orders": {"Network"}, "Billing": {"Network"}} {
		refs := map[string]bool{}
		for _, r := range crossStackRefs(t, assembly.GetStackByName(jsii.String(name)).Template()) {
			refs[r] = true
		}
		var got []string
		for r := range refs {
			got = append(got, r)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) && !(len(got) == 0 && len(want) == 0) {
			t.Errorf("stack %s references %v, want %v", name, got, want)
		}
	}
}
