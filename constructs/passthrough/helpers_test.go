package passthrough_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
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

// invalidCase is one way to get props wrong, and the one message that must
// stop it. Written on one line: a name, a builder (fargateWith, serviceWith,
// ec2With, clusterWith, loadBalancerWith, or a one-line func of the
// fixture) and the exact message.
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
	runInvalidOn(t, func(t *testing.T) *fixture { return newFixture(t, false) }, cases)
}

// runInvalidOn is runInvalid on the fixtures that newF makes.
func runInvalidOn(t *testing.T, newF func(t *testing.T) *fixture, cases []invalidCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newF(t)
			err := cdktest.Invalid(t, func() { tc.build(f) })
			if got := err.Error(); got != tc.want {
				t.Errorf("error mismatch\ngot:  %s\nwant: %s", got, tc.want)
			}
		})
	}
}

// Short names for the props that invalid cases change, so that each case
// fits on one line.
type (
	serviceProps = passthrough.ServiceProps
	fargateProps = passthrough.FargateServiceProps
	ec2Props     = passthrough.EC2ServiceProps
)

// serviceWith builds the Fargate service "Api" on listener port 443 of the
// fixture, with its shared props changed by set.
func serviceWith(set func(p *passthrough.ServiceProps)) func(f *fixture) {
	return fargateWith(func(p *passthrough.FargateServiceProps) { set(&p.ServiceProps) })
}

// fargateWith builds the Fargate service "Api" on listener port 443 of the
// fixture, with its props changed by set.
func fargateWith(set func(p *passthrough.FargateServiceProps)) func(f *fixture) {
	return func(f *fixture) {
		p := &passthrough.FargateServiceProps{ServiceProps: f.service(443)}
		set(p)
		passthrough.NewFargateService(f.stack, jsii.String("Api"), p)
	}
}

// ec2With builds the EC2 service "Api" on listener port 443 of the fixture,
// with its props changed by set.
func ec2With(set func(p *passthrough.EC2ServiceProps)) func(f *fixture) {
	return func(f *fixture) {
		p := &passthrough.EC2ServiceProps{ServiceProps: f.service(443)}
		set(p)
		passthrough.NewEC2Service(f.stack, jsii.String("Api"), p)
	}
}

// clusterWith builds the cluster id with props.
func clusterWith(id string, props passthrough.ClusterProps) func(f *fixture) {
	return func(f *fixture) {
		p := props
		passthrough.NewCluster(f.stack, jsii.String(id), &p)
	}
}

// loadBalancerWith builds the load balancer id with props, in the
// fixture's VPC unless props name one.
func loadBalancerWith(id string, props passthrough.LoadBalancerProps) func(f *fixture) {
	return func(f *fixture) {
		p := props
		if p.Vpc == nil {
			p.Vpc = f.cluster.Vpc
		}
		passthrough.NewLoadBalancer(f.stack, jsii.String(id), &p)
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

const typeAlarm = "AWS::CloudWatch::Alarm"

// noEgress is the inline rule that keeps EC2's default allow-all egress rule
// off a security group whose egress rules are all separate resources.
var noEgress = map[string]any{
	"CidrIp":      "255.255.255.255/32",
	"Description": "No egress but the rules declared for this group",
	"FromPort":    252,
	"IpProtocol":  "icmp",
	"ToPort":      0,
}

func tcpRule(cidr string, from, to float64) map[string]any {
	return map[string]any{
		"CidrIp":      cidr,
		"IpProtocol":  "tcp",
		"FromPort":    from,
		"ToPort":      to,
		"Description": assertions.Match_AnyValue(),
	}
}

const (
	typeListener      = "AWS::ElasticLoadBalancingV2::Listener"
	typeTargetGroup   = "AWS::ElasticLoadBalancingV2::TargetGroup"
	typeLoadBalancer  = "AWS::ElasticLoadBalancingV2::LoadBalancer"
	typeService       = "AWS::ECS::Service"
	typeTaskDef       = "AWS::ECS::TaskDefinition"
	typeSecurityGroup = "AWS::EC2::SecurityGroup"
	typeIngress       = "AWS::EC2::SecurityGroupIngress"
	typeEgress        = "AWS::EC2::SecurityGroupEgress"
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
