package test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/examples/stacks"
	"github.com/passthrough-cdk/passthrough/internal/cdktest"
)

// Every ECS service and every Auto Scaling group of an example depends on
// the VPC endpoints and the routes to NAT gateways of its template: the way
// its tasks, and the ECS agent of its instances, reach AWS. CloudFormation
// then deletes them only after the services have stopped their tasks and
// the instances have drained, and starts no task before it can pull its
// image. (Each example stack has one VPC; checked per template.)
func TestExamplesTearDownServicesBeforeTheirWayToAWS(t *testing.T) {
	checked := 0
	forEachExample(t, func(t *testing.T, tpl *cdktest.Template) {
		var egress []string
		for id, r := range tpl.Resources("AWS::EC2::VPCEndpoint") {
			// An endpoint of an endpoint service (PrivateLink to another
			// VPC) is not a way to AWS.
			if name, _ := json.Marshal(r["ServiceName"]); !strings.Contains(string(name), "vpce-svc") {
				egress = append(egress, id)
			}
		}
		for id, r := range tpl.Resources("AWS::EC2::Route") {
			if r["NatGatewayId"] != nil {
				egress = append(egress, id)
			}
		}
		if len(egress) == 0 {
			t.Fatal("no VPC endpoint and no NAT route: how do the tasks reach AWS?")
		}
		dependents := map[string]string{}
		for id := range tpl.Resources(typeService) {
			dependents[id] = "ECS service"
		}
		for id := range tpl.Resources("AWS::AutoScaling::AutoScalingGroup") {
			dependents[id] = "Auto Scaling group"
		}
		for id, what := range dependents {
			checked++
			deps := dtDependsOn(tpl, id)
			for _, e := range egress {
				if !slices.Contains(deps, e) {
					t.Errorf("%s %s does not depend on %s", what, id, e)
				}
			}
		}
	})
	if checked == 0 {
		t.Error("no service or Auto Scaling group: nothing was checked")
	}
}

// The PrivateLink consumer depends on the provider, though no reference
// joins them (the consumer takes the endpoint service name from context):
// an endpoint service with a connected or pending endpoint cannot be
// deleted, so `cdk destroy PassthroughPrivateLinkProvider` must destroy the
// consumer first, which the CLI does for the stacks that depend on the one
// named. The dependency is in the cloud assembly, where the CLI reads it.
func TestPrivateLinkConsumerIsDestroyedBeforeItsProvider(t *testing.T) {
	app := cdktest.NewApp(t, cdktest.AppContext(t))
	stacks.All(app)
	assembly := cdktest.Synth(t, app)
	consumer := assembly.GetStackByName(jsii.String(stacks.PrivateLinkConsumerStack))
	var deps []string
	for _, d := range *consumer.Dependencies() {
		deps = append(deps, *d.Id())
	}
	if !slices.Contains(deps, stacks.PrivateLinkProviderStack) {
		t.Errorf("%s depends on %v, not on %s", stacks.PrivateLinkConsumerStack, deps, stacks.PrivateLinkProviderStack)
	}
}
