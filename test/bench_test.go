package test

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	elbv2 "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
	"github.com/passthrough-cdk/passthrough/examples/stacks"
	"github.com/passthrough-cdk/passthrough/internal/cdktest"
)

// requestLog counts the requests the Go process sends to the jsii runtime:
// every call from Go into aws-cdk-lib is one round trip to Node.js, where
// most of the work of synthesis happens (and which -benchmem cannot see).
// The runtime's stdin goes through tee into this file, when the embedded
// runtime can be found; requestLog is empty otherwise.
var requestLog = os.Getenv("PASSTHROUGH_JSII_REQUEST_LOG")

// TestMain starts the work tests need from other processes before the
// first test of a full run (background_test.go), and, for a benchmark run only, starts the jsii runtime
// itself behind tee so that requests can be counted: jsii-runtime-go reads
// JSII_RUNTIME when the Go packages are initialized, before TestMain runs,
// so the test binary sets it and runs itself again, once. Tests do not pay
// for the tee: every request, templates included, would be copied to disk.
func TestMain(m *testing.M) {
	flag.Parse()
	bench := flag.Lookup("test.bench").Value.String() != ""
	if bench && requestLog == "" && os.Getenv("JSII_RUNTIME") == "" {
		if code, ok := runBehindTee(os.Args[1:], os.Stdout, os.Stderr); ok {
			os.Exit(code)
		}
	}
	if flag.Lookup("test.run").Value.String() == "" && !bench {
		for _, b := range backgroundWork {
			b.start()
		}
	}
	code := m.Run()
	for _, b := range backgroundWork {
		b.finish()
	}
	os.Exit(code)
}

// teeRuntime is the environment that makes a new process of this test
// binary run its jsii runtime behind tee, logging requests to a new file,
// and a function that removes the file; ok is false when the embedded
// runtime cannot be found.
func teeRuntime() (env []string, remove func(), ok bool) {
	entry := jsiiRuntimeEntrypoint()
	if entry == "" {
		return nil, nil, false
	}
	f, err := os.CreateTemp("", "jsii-requests-*.log")
	if err != nil {
		return nil, nil, false
	}
	f.Close()
	node := "node"
	if n := os.Getenv("JSII_NODE"); n != "" {
		node = n
	}
	return []string{
		"PASSTHROUGH_JSII_REQUEST_LOG=" + f.Name(),
		fmt.Sprintf("JSII_RUNTIME=tee -a %q | %q %q", f.Name(), node, entry),
	}, func() { os.Remove(f.Name()) }, true
}

// runBehindTee runs this test binary again with args and the jsii runtime
// behind tee, and returns its exit code; ok is false when the embedded
// runtime cannot be found, and nothing ran.
func runBehindTee(args []string, stdout, stderr io.Writer) (code int, ok bool) {
	env, remove, ok := teeRuntime()
	if !ok {
		return 0, false
	}
	defer remove()
	self, err := os.Executable()
	if err != nil {
		return 0, false
	}
	cmd := exec.Command(self, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = append(os.Environ(), env...), stdout, stderr
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode(), true
	case err != nil:
		fmt.Fprintln(stderr, err)
		return 1, true
	}
	return 0, true
}

// jsiiRuntimeEntrypoint finds the jsii runtime that jsii-runtime-go embeds,
// in the module cache, so that TestMain can start it itself.
func jsiiRuntimeEntrypoint() string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/aws/jsii-runtime-go").Output()
	if err != nil {
		return ""
	}
	entry := filepath.Join(strings.TrimSpace(string(out)), "internal", "embedded", "resources", "bin", "jsii-runtime.js")
	if _, err := os.Stat(entry); err != nil {
		return ""
	}
	return entry
}

// requests is the number of jsii requests sent so far (lines in the log).
func requests(tb testing.TB) int {
	tb.Helper()
	if requestLog == "" {
		return -1
	}
	b, err := os.ReadFile(requestLog)
	if err != nil {
		tb.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

// servicesStack builds one load balancer carrying n services, with
// Passthrough, on EC2 or Fargate, without the alarms (two alarms and a rule
// per service, which would take 40 services past CloudFormation's 500
// resources per stack, and which the aws-cdk-go version does not have).
func servicesStack(app awscdk.App, n int, ec2 bool) awscdk.Stack {
	stack := awscdk.NewStack(app, jsii.String(fmt.Sprintf("Services%d", n)), nil)
	props := &passthrough.ClusterProps{}
	if ec2 {
		props.EC2 = &passthrough.EC2CapacityProps{}
	}
	cluster := passthrough.NewCluster(stack, jsii.String("Cluster"), props)
	lb := passthrough.NewLoadBalancer(stack, jsii.String("LB"), &passthrough.LoadBalancerProps{Vpc: cluster.Vpc})
	image := awsecs.ContainerImage_FromRegistry(jsii.String("registry.example.com/tls:1"), nil)
	for i := range n {
		sp := passthrough.ServiceProps{
			Cluster: cluster, LoadBalancer: lb, Image: image, ListenerPort: jsii.Number(float64(1000 + i)),
			Alarms: &passthrough.AlarmProps{Disabled: jsii.Bool(true)},
		}
		id := jsii.String(fmt.Sprintf("S%d", i))
		if ec2 {
			passthrough.NewEC2Service(stack, id, &passthrough.EC2ServiceProps{ServiceProps: sp})
		} else {
			passthrough.NewFargateService(stack, id, &passthrough.FargateServiceProps{ServiceProps: sp})
		}
	}
	return stack
}

// rawServicesStack is the same shape written directly with aws-cdk-go, the
// way a user without Passthrough would: a VPC and cluster, one NLB with a
// security group, and per service a task definition, service, TCP target
// group and listener, with the security group rules between them. It has no
// alarms and no validation, so it shows what Passthrough's extras cost.
func rawServicesStack(app awscdk.App, n int, ec2 bool) awscdk.Stack {
	stack := awscdk.NewStack(app, jsii.String(fmt.Sprintf("Raw%d", n)), nil)
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{MaxAzs: jsii.Number(2), NatGateways: jsii.Number(1)})
	cluster := awsecs.NewCluster(stack, jsii.String("Cluster"), &awsecs.ClusterProps{Vpc: vpc})
	var instances awsec2.ISecurityGroup
	if ec2 {
		asg := cluster.AddCapacity(jsii.String("Capacity"), &awsecs.AddCapacityOptions{
			InstanceType: awsec2.NewInstanceType(jsii.String("t3.medium")),
			MinCapacity:  jsii.Number(2),
		})
		instances = (*asg.Connections().SecurityGroups())[0]
	}
	lbSG := awsec2.NewSecurityGroup(stack, jsii.String("LBSG"), &awsec2.SecurityGroupProps{Vpc: vpc, AllowAllOutbound: jsii.Bool(false)})
	nlb := elbv2.NewNetworkLoadBalancer(stack, jsii.String("NLB"), &elbv2.NetworkLoadBalancerProps{
		Vpc: vpc, InternetFacing: jsii.Bool(true), SecurityGroups: &[]awsec2.ISecurityGroup{lbSG},
	})
	image := awsecs.ContainerImage_FromRegistry(jsii.String("registry.example.com/tls:1"), nil)
	for i := range n {
		scope := constructs.NewConstruct(stack, jsii.String(fmt.Sprintf("S%d", i)))
		port := jsii.Number(float64(1000 + i))
		var svc awsecs.BaseService
		var targets awsec2.ISecurityGroup
		var targetPort awsec2.Port
		if ec2 {
			td := awsecs.NewEc2TaskDefinition(scope, jsii.String("Task"), &awsecs.Ec2TaskDefinitionProps{NetworkMode: awsecs.NetworkMode_BRIDGE})
			td.AddContainer(jsii.String("app"), &awsecs.ContainerDefinitionOptions{
				Image: image, MemoryLimitMiB: jsii.Number(512),
				PortMappings: &[]*awsecs.PortMapping{{ContainerPort: jsii.Number(8443), HostPort: jsii.Number(0)}},
			})
			svc = awsecs.NewEc2Service(scope, jsii.String("Service"), &awsecs.Ec2ServiceProps{Cluster: cluster, TaskDefinition: td})
			targets, targetPort = instances, awsec2.Port_TcpRange(jsii.Number(32768), jsii.Number(60999))
		} else {
			td := awsecs.NewFargateTaskDefinition(scope, jsii.String("Task"), nil)
			td.AddContainer(jsii.String("app"), &awsecs.ContainerDefinitionOptions{
				Image:        image,
				PortMappings: &[]*awsecs.PortMapping{{ContainerPort: jsii.Number(8443)}},
			})
			sg := awsec2.NewSecurityGroup(scope, jsii.String("SG"), &awsec2.SecurityGroupProps{Vpc: vpc})
			svc = awsecs.NewFargateService(scope, jsii.String("Service"), &awsecs.FargateServiceProps{
				Cluster: cluster, TaskDefinition: td, SecurityGroups: &[]awsec2.ISecurityGroup{sg},
			})
			targets, targetPort = sg, awsec2.Port_Tcp(jsii.Number(8443))
		}
		listener := nlb.AddListener(jsii.String(fmt.Sprintf("L%d", i)), &elbv2.BaseNetworkListenerProps{Port: port, Protocol: elbv2.Protocol_TCP})
		listener.AddTargets(jsii.String("T"), &elbv2.AddNetworkTargetsProps{
			Port:    jsii.Number(8443),
			Targets: &[]elbv2.INetworkLoadBalancerTarget{svc.LoadBalancerTarget(&awsecs.LoadBalancerTargetOptions{ContainerName: jsii.String("app"), ContainerPort: jsii.Number(8443)})},
		})
		lbSG.AddIngressRule(awsec2.Peer_AnyIpv4(), awsec2.Port_Tcp(port), nil, nil)
		targets.Connections().AllowFrom(lbSG, targetPort, nil)
	}
	return stack
}

// synth synthesizes stack's app and returns its template's resource count.
func synth(tb testing.TB, app awscdk.App, stack awscdk.Stack) int {
	tb.Helper()
	assembly := cdktest.Synth(tb, app)
	template, _ := assembly.GetStackByName(stack.StackName()).Template().(map[string]any)
	resources, _ := template["Resources"].(map[string]any)
	return len(resources)
}

// BenchmarkServices synthesizes one load balancer carrying 1, 10 and 40
// services, with Passthrough and written directly with aws-cdk-go, and
// reports the jsii round trips per service next to the time.
func BenchmarkServices(b *testing.B) {
	// Start the jsii runtime and load aws-cdk-lib outside the timings.
	warm := cdktest.NewApp(b, cdktest.AppContext(b))
	synth(b, warm, servicesStack(warm, 1, false))
	for _, launch := range []string{"fargate", "ec2"} {
		for _, impl := range []struct {
			name  string
			build func(awscdk.App, int, bool) awscdk.Stack
		}{{"passthrough", servicesStack}, {"aws-cdk-go", rawServicesStack}} {
			for _, n := range []int{1, 10, 40} {
				b.Run(fmt.Sprintf("%s/%s/services=%d", launch, impl.name, n), func(b *testing.B) {
					ctx := cdktest.AppContext(b)
					var resources, calls int
					for b.Loop() {
						before := requests(b)
						app := cdktest.NewApp(b, ctx)
						resources = synth(b, app, impl.build(app, n, launch == "ec2"))
						calls = requests(b) - before
					}
					b.ReportMetric(float64(resources), "resources")
					if calls >= 0 {
						b.ReportMetric(float64(calls)/float64(n), "jsii-calls/service")
					}
				})
			}
		}
	}
}

// BenchmarkExamples synthesizes each example stack on its own, and the
// whole example app.
func BenchmarkExamples(b *testing.B) {
	ctx := cdktest.AppContext(b)
	warm := cdktest.NewApp(b, ctx)
	synth(b, warm, stacks.New(warm, stacks.Names[0]))
	run := func(b *testing.B, build func(app awscdk.App)) {
		var calls int
		for b.Loop() {
			before := requests(b)
			app := cdktest.NewApp(b, ctx)
			build(app)
			app.Synth(nil)
			calls = requests(b) - before
		}
		if calls >= 0 {
			b.ReportMetric(float64(calls), "jsii-calls")
		}
	}
	for _, name := range stacks.Names {
		b.Run(name, func(b *testing.B) { run(b, func(app awscdk.App) { stacks.New(app, name) }) })
	}
	b.Run("all", func(b *testing.B) { run(b, func(app awscdk.App) { stacks.All(app) }) })
}

// The work of synthesis grows linearly in the number of services: the jsii
// round trips for 40 services are those for 10 plus 30 times what each of
// services 3 to 10 cost, plus at most 5 %.
func TestSynthesisCostIsLinearInServices(t *testing.T) {
	if offloaded(t) {
		return
	}
	if requestLog == "" {
		t.Skip("the jsii runtime was not found in the module cache, so round trips cannot be counted")
	}
	ctx := cdktest.AppContext(t)
	count := func(n int) int {
		before := requests(t)
		app := cdktest.NewApp(t, ctx)
		synth(t, app, servicesStack(app, n, false))
		return requests(t) - before
	}
	c2, c10, c40 := count(2), count(10), count(40)
	perService := float64(c10-c2) / 8
	if perService <= 0 {
		t.Fatalf("counted %d and %d round trips for 2 and 10 services", c2, c10)
	}
	want := float64(c10) + 30*perService
	if float64(c40) > 1.05*want {
		t.Errorf("40 services: %d round trips, more than %.0f + 5 %% (10 services %d plus 30 × %.1f): the cost grows faster than linearly", c40, want, c10, perService)
	}
	t.Logf("round trips: 2 services %d, 10 services %d, 40 services %d; %.1f per service", c2, c10, c40, perService)
}
