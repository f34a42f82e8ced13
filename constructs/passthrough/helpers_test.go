package passthrough_test

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
	"github.com/passthrough-cdk/passthrough/internal/cdktest"
)

// fixture is a stack with a cluster and an internet-facing load balancer,
// ready for services.
type fixture struct {
	stack   awscdk.Stack
	cluster *passthrough.Cluster
	lb      *passthrough.LoadBalancer
	image   awsecs.ContainerImage
}

func newFixture(t *testing.T, ec2 bool) *fixture {
	t.Helper()
	stack := cdktest.NewStack(t)
	props := &passthrough.ClusterProps{}
	if ec2 {
		props.EC2 = &passthrough.EC2CapacityProps{}
	}
	cluster := passthrough.NewCluster(stack, jsii.String("Cluster"), props)
	lb := passthrough.NewLoadBalancer(stack, jsii.String("LB"), &passthrough.LoadBalancerProps{Vpc: cluster.Vpc})
	return &fixture{stack: stack, cluster: cluster, lb: lb, image: awsecs.ContainerImage_FromRegistry(jsii.String("example/tls:1"), nil)}
}

func (f *fixture) service(port float64) passthrough.ServiceProps {
	return passthrough.ServiceProps{
		Cluster:      f.cluster,
		LoadBalancer: f.lb,
		Image:        f.image,
		ListenerPort: jsii.Number(port),
	}
}

func (f *fixture) fargate(id string, port float64) *passthrough.Service {
	return passthrough.NewFargateService(f.stack, jsii.String(id), &passthrough.FargateServiceProps{ServiceProps: f.service(port)})
}

func (f *fixture) ec2(id string, port float64) *passthrough.Service {
	return passthrough.NewEC2Service(f.stack, jsii.String(id), &passthrough.EC2ServiceProps{ServiceProps: f.service(port)})
}

func (f *fixture) template(t *testing.T) *cdktest.Template {
	t.Helper()
	return cdktest.TemplateOf(t, f.stack)
}

// getAtt and ref are the CloudFormation intrinsics the template uses to
// point at another resource.
func getAtt(logicalID, attr string) map[string]any {
	return map[string]any{"Fn::GetAtt": []any{logicalID, attr}}
}

func ref(logicalID string) map[string]any {
	return map[string]any{"Ref": logicalID}
}

// onlyID returns the logical ID of the one resource of type typ, failing the
// test if there is not exactly one.
func onlyID(t *testing.T, tpl *cdktest.Template, typ string) string {
	t.Helper()
	rs := tpl.Resources(typ)
	if len(rs) != 1 {
		t.Fatalf("%d resources of type %s, want 1", len(rs), typ)
	}
	for id := range rs {
		return id
	}
	return ""
}

// logicalID is the logical ID of the CloudFormation resource behind c (its
// default child, or c itself).
func logicalID(t *testing.T, stack awscdk.Stack, c constructs.IConstruct) string {
	t.Helper()
	if child := c.Node().DefaultChild(); child != nil {
		c = child
	}
	el, ok := c.(awscdk.CfnElement)
	if !ok {
		t.Fatalf("%s is not a CloudFormation element", *c.Node().Path())
	}
	return *stack.GetLogicalId(el)
}

func newFargate(f *fixture, id string, props passthrough.ServiceProps, cpu, memory float64) *passthrough.Service {
	return passthrough.NewFargateService(f.stack, jsii.String(id), &passthrough.FargateServiceProps{
		ServiceProps:   props,
		CPU:            jsii.Number(cpu),
		MemoryLimitMiB: jsii.Number(memory),
	})
}

func awsecsImage() awsecs.ContainerImage {
	return awsecs.ContainerImage_FromRegistry(jsii.String("example/tls:1"), nil)
}

func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// invalidCase builds a fixture's stack with one thing wrong and names the
// one message that must stop it.
type invalidCase struct {
	name  string
	build func(f *fixture)
	want  string
}

// runInvalid runs each case on a fresh Fargate fixture and requires exactly
// its message: the construct path and the bad value, from a
// *passthrough.ValidationError (not any panic).
func runInvalid(t *testing.T, cases []invalidCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, false)
			err := cdktest.Invalid(t, func() { tc.build(f) })
			if got := err.Error(); got != tc.want {
				t.Errorf("error mismatch\ngot:  %s\nwant: %s", got, tc.want)
			}
		})
	}
}

// dependsOn returns the logical IDs in the DependsOn of resource id.
func dependsOn(t *testing.T, tpl *cdktest.Template, id string) map[string]bool {
	t.Helper()
	resources, _ := tpl.JSON()["Resources"].(map[string]any)
	res, ok := resources[id].(map[string]any)
	if !ok {
		t.Fatalf("no resource %s", id)
	}
	deps := map[string]bool{}
	switch d := res["DependsOn"].(type) {
	case string:
		deps[d] = true
	case []any:
		for _, e := range d {
			deps[e.(string)] = true
		}
	}
	return deps
}
