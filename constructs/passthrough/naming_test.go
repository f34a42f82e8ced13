package passthrough_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
	"github.com/passthrough-cdk/passthrough/constructs/passthrough/passthroughtest"
	"github.com/passthrough-cdk/passthrough/internal/cdktest"
)

// alarmNames are the AlarmNames of a template, by logical ID.
func alarmNames(tpl *cdktest.Template) map[string]string {
	out := map[string]string{}
	for id, p := range tpl.Resources(typeAlarm) {
		out[id], _ = p["AlarmName"].(string)
	}
	return out
}

// Two construct paths that read the same with hyphens for slashes get
// different alarm names: each name ends in a hash of the alarm's whole
// path, so a renamed or moved service never lands on a name that another
// alarm holds.
func TestAlarmNamesOfPathsThatReadTheSameDiffer(t *testing.T) {
	f := newFixture(t, false)
	f.fargate("Api-v2", 443)
	group := constructs.NewConstruct(f.stack, jsii.String("Api"))
	passthrough.NewFargateService(group, jsii.String("v2"), &passthrough.FargateServiceProps{ServiceProps: f.service(8443)})
	seen := map[string]string{}
	format := regexp.MustCompile(`^Test-Api-v2-(healthy-targets-below-floor|unhealthy-targets)-[0-9a-f]{8}$`)
	for id, name := range alarmNames(f.template(t)) {
		if strings.HasPrefix(name, "Test-LB-") {
			continue
		}
		if !format.MatchString(name) {
			t.Errorf("alarm %s is named %q, want <stack>-<path>-<what>-<hash>", id, name)
		}
		if other, dup := seen[name]; dup {
			t.Errorf("alarms %s and %s share the name %q", id, other, name)
		}
		seen[name] = id
	}
	if len(seen) != 4 {
		t.Errorf("%d service alarms, want 4", len(seen))
	}
}

// Inside a Stage the stack "Payments" of stage "Prod" is named
// "Prod-Payments" and has the path "Prod/Payments": names begin with the
// stack's name once, the path below the stack follows, and the certificate
// metric's series, the rollback rule and the topic's admission of the
// stack's alarms all agree on it.
func TestNamesInsideAStageCarryTheStackNameOnce(t *testing.T) {
	app := cdktest.NewApp(t, nil)
	stage := awscdk.NewStage(app, jsii.String("Prod"), nil)
	stack := awscdk.NewStack(stage, jsii.String("Payments"), nil)
	cluster := passthrough.NewCluster(stack, jsii.String("Cluster"), nil)
	lb := passthrough.NewLoadBalancer(stack, jsii.String("LB"), &passthrough.LoadBalancerProps{Vpc: cluster.Vpc})
	topic := awssns.NewTopic(stack, jsii.String("Ops"), nil)
	p := passthrough.ServiceProps{Cluster: cluster, LoadBalancer: lb, Image: awsecsImage(), Certificate: testCertificate(stack), Alarms: &passthrough.AlarmProps{Topic: topic}}
	passthrough.NewFargateService(stack, jsii.String("Api"), &passthrough.FargateServiceProps{ServiceProps: p})
	if got := *stack.StackName(); got != "Prod-Payments" {
		t.Fatalf("stack name %q", got)
	}
	tpl := cdktest.TemplateOf(t, stack)
	want := regexp.MustCompile(`^Prod-Payments-(Api|LB)-[a-z-]+-[0-9a-f]{8}$`)
	for id, name := range alarmNames(tpl) {
		if !want.MatchString(name) {
			t.Errorf("alarm %s is named %q, want Prod-Payments-<path>-<what>-<hash>", id, name)
		}
	}
	tpl.Has("AWS::Events::Rule", map[string]any{"Name": "Prod-Payments-Api-rollback"})
	tpl.Has(typeTaskDef, map[string]any{"ContainerDefinitions": []any{matchEnvironment("SERVICE_NAME", "Prod-Payments/Api")}})
	raw := jsonString(tpl.JSON())
	if !strings.Contains(raw, ":alarm:Prod-Payments-*") {
		t.Error("the topic policy does not admit the alarms named Prod-Payments-*")
	}
	// The guarantees hold inside a Stage as anywhere else.
	problems, err := passthroughtest.Problems([]byte(raw))
	if err != nil || len(problems) > 0 {
		t.Errorf("problems %v, error %v", problems, err)
	}
}

// The network stack split inside a Stage: the service stack references the
// network stack only, and both are named after the stage.
func TestNetworkStackSplitInsideAStage(t *testing.T) {
	app := cdktest.NewApp(t, nil)
	stage := awscdk.NewStage(app, jsii.String("Prod"), nil)
	net := awscdk.NewStack(stage, jsii.String("Net"), nil)
	cluster := passthrough.NewCluster(net, jsii.String("Cluster"), &passthrough.ClusterProps{VpcEndpoints: jsii.Bool(true)})
	lb := passthrough.NewLoadBalancer(net, jsii.String("LB"), &passthrough.LoadBalancerProps{Vpc: cluster.Vpc, InternetFacing: jsii.Bool(false)})
	svcStack := awscdk.NewStack(stage, jsii.String("Svc"), nil)
	passthrough.NewFargateService(svcStack, jsii.String("Api"), &passthrough.FargateServiceProps{ServiceProps: passthrough.ServiceProps{
		Cluster: cluster, LoadBalancer: lb, Image: awsecsImage(),
	}})
	assembly := cdktest.Synth(t, app).GetNestedAssembly(jsii.String("assembly-Prod"))
	tpl := assembly.GetStackByName(jsii.String("Prod-Svc")).Template()
	for _, r := range crossStackRefs(t, tpl) {
		if r != "Prod-Net" {
			t.Errorf("the service stack references stack %s", r)
		}
	}
	if len(crossStackRefs(t, tpl)) == 0 {
		t.Error("the service stack references nothing of the network stack")
	}
	for id, name := range alarmNames(cdktest.TemplateFromJSON(t, tpl.(map[string]any))) {
		if !strings.HasPrefix(name, "Prod-Svc-Api-") {
			t.Errorf("alarm %s is named %q", id, name)
		}
	}
}

// Stack names reach 128 characters and construct IDs have no limit; the
// names Passthrough sets stay within what each service accepts, and keep
// the stack's name in front, by which a topic admits the alarms.
func TestLongStackAndConstructNamesStayWithinLimits(t *testing.T) {
	app := cdktest.NewApp(t, nil)
	stackName := "S" + strings.Repeat("x", 127)
	stack := awscdk.NewStack(app, jsii.String(stackName), nil)
	cluster := passthrough.NewCluster(stack, jsii.String("Cluster"), nil)
	lb := passthrough.NewLoadBalancer(stack, jsii.String("LoadBalancer"+strings.Repeat("L", 200)), &passthrough.LoadBalancerProps{Vpc: cluster.Vpc})
	group := constructs.NewConstruct(stack, jsii.String("Group"+strings.Repeat("G", 150)))
	long := "Service" + strings.Repeat("s", 200)
	p := passthrough.ServiceProps{Cluster: cluster, LoadBalancer: lb, Image: awsecsImage(), Certificate: testCertificate(stack)}
	passthrough.NewFargateService(group, jsii.String(long), &passthrough.FargateServiceProps{ServiceProps: p})
	p.ListenerPort = jsii.Number(8443)
	passthrough.NewFargateService(group, jsii.String(long+"2"), &passthrough.FargateServiceProps{ServiceProps: p})
	tpl := cdktest.TemplateOf(t, stack)

	names := alarmNames(tpl)
	if len(names) != 8 {
		t.Fatalf("%d alarms, want 8", len(names))
	}
	seen := map[string]bool{}
	for id, name := range names {
		if len(name) > 255 || !strings.HasPrefix(name, stackName+"-") || !regexp.MustCompile(`-[a-z-]+-[0-9a-f]{8}$`).MatchString(name) {
			t.Errorf("alarm %s: %d characters, %q", id, len(name), name)
		}
		if seen[name] {
			t.Errorf("two alarms named %q", name)
		}
		seen[name] = true
	}
	for id, r := range tpl.Resources("AWS::Events::Rule") {
		if name, _ := r["Name"].(string); len(name) > 64 || name == "" {
			t.Errorf("rule %s: %d characters, %q", id, len(name), name)
		}
	}
	for id, td := range tpl.Resources(typeTaskDef) {
		if family, _ := td["Family"].(string); len(family) > 255 {
			t.Errorf("task definition %s: family of %d characters", id, len(family))
		}
	}
	// The certificate metric's series: one per service, within CloudWatch's
	// limit on a dimension value.
	series := map[string]bool{}
	for _, a := range tpl.Resources(typeAlarm) {
		if a["MetricName"] != "CertificateDaysToExpiry" {
			continue
		}
		value, _ := a["Dimensions"].([]any)[0].(map[string]any)["Value"].(string)
		if len(value) > 255 || !strings.HasPrefix(value, stackName+"/") || series[value] {
			t.Errorf("certificate metric series %q (%d characters)", value, len(value))
		}
		series[value] = true
	}
	if len(series) != 2 {
		t.Errorf("%d certificate metric series, want 2", len(series))
	}
}

// tgID is the construct ID of the target group of service "Api" in an app
// whose load balancer is configured by lbProps and named lbID.
func tgID(t *testing.T, lbID string, lbProps passthrough.LoadBalancerProps, svcLB string) string {
	t.Helper()
	stack := cdktest.NewStack(t)
	cluster := passthrough.NewCluster(stack, jsii.String("Cluster"), nil)
	lbProps.Vpc = cluster.Vpc
	lbs := map[string]*passthrough.LoadBalancer{lbID: passthrough.NewLoadBalancer(stack, jsii.String(lbID), &lbProps)}
	if svcLB != lbID {
		lbs[svcLB] = passthrough.NewLoadBalancer(stack, jsii.String(svcLB), &passthrough.LoadBalancerProps{Vpc: cluster.Vpc})
	}
	svc := passthrough.NewFargateService(stack, jsii.String("Api"), &passthrough.FargateServiceProps{ServiceProps: passthrough.ServiceProps{
		Cluster: cluster, LoadBalancer: lbs[svcLB], Image: awsecsImage(),
	}})
	return *svc.TargetGroup.Node().Id()
}

// A target group serves one load balancer, so its logical ID follows the
// load balancer's identity: a change that replaces the load balancer
// (scheme, name, its construct ID) or moves the service to another one
// replaces the target group too, and a change that updates the load
// balancer in place keeps it.
func TestTargetGroupFollowsTheLoadBalancersIdentity(t *testing.T) {
	base := tgID(t, "LB", passthrough.LoadBalancerProps{}, "LB")
	if !regexp.MustCompile(`^TargetGroup[0-9a-f]{8}$`).MatchString(base) {
		t.Errorf("target group ID %q", base)
	}
	for _, tc := range []struct {
		name  string
		lbID  string
		props passthrough.LoadBalancerProps
		svcLB string
		same  bool
	}{
		{"internal", "LB", passthrough.LoadBalancerProps{InternetFacing: jsii.Bool(false)}, "LB", false},
		{"named", "LB", passthrough.LoadBalancerProps{LoadBalancerName: jsii.String("payments")}, "LB", false},
		{"renamed construct", "LB2", passthrough.LoadBalancerProps{}, "LB2", false},
		{"another load balancer", "LB", passthrough.LoadBalancerProps{}, "Other", false},
		{"other subnets", "LB", passthrough.LoadBalancerProps{VpcSubnets: &awsec2.SubnetSelection{SubnetGroupName: jsii.String("Public")}}, "LB", true},
		{"deletion protection and cross-zone", "LB", passthrough.LoadBalancerProps{DeletionProtection: jsii.Bool(true), CrossZoneEnabled: jsii.Bool(false)}, "LB", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tgID(t, tc.lbID, tc.props, tc.svcLB)
			if (got == base) != tc.same {
				t.Errorf("target group ID %q, base %q; want same: %v", got, base, tc.same)
			}
		})
	}
	named := func(name string) string {
		return tgID(t, "LB", passthrough.LoadBalancerProps{LoadBalancerName: jsii.String(name)}, "LB")
	}
	if named("a") == named("b") {
		t.Error("a new load balancer name keeps the target group")
	}
}

// ECS registers every task with its own port and the health check uses the
// traffic port, so a new ContainerPort changes neither the target group nor
// the task security group: Port and GroupDescription both require
// replacement, and a replaced target group would take the listener to an
// empty group until ECS registers the new tasks.
func TestContainerPortChangesNeitherTargetGroupNorSecurityGroup(t *testing.T) {
	groups := func(port float64) (tg, sg map[string]map[string]any) {
		f := newFixture(t, false)
		p := f.service(443)
		p.ContainerPort = jsii.Number(port)
		newFargate(f, "Api", p, 256, 512)
		tpl := f.template(t)
		sg = tpl.Resources(typeSecurityGroup)
		return tpl.Resources(typeTargetGroup), sg
	}
	tg1, sg1 := groups(8443)
	tg2, sg2 := groups(9000)
	if jsonString(tg1) != jsonString(tg2) {
		t.Errorf("target groups differ:\n%s\n%s", jsonString(tg1), jsonString(tg2))
	}
	for id, g := range sg1 {
		if jsonString(g["GroupDescription"]) != jsonString(sg2[id]["GroupDescription"]) {
			t.Errorf("security group %s: description %v, then %v", id, g["GroupDescription"], sg2[id]["GroupDescription"])
		}
	}
	for _, g := range tg1 {
		if g["Port"] != 8443.0 || g["HealthCheckPort"] != "traffic-port" {
			t.Errorf("target group port %v, health check port %v", g["Port"], g["HealthCheckPort"])
		}
	}
}

func testCertificate(stack awscdk.Stack) *passthrough.Certificate {
	return &passthrough.Certificate{Secret: awssecretsmanager.Secret_FromSecretCompleteArn(stack, jsii.String("Cert"), jsii.String(certArn))}
}

// matchEnvironment matches a container definition whose environment holds
// name=value.
func matchEnvironment(name, value string) any {
	return assertions.Match_ObjectLike(&map[string]any{
		"Environment": assertions.Match_ArrayWith(&[]any{map[string]any{"Name": name, "Value": value}}),
	})
}

// A service on another app's load balancer has a target group that follows
// that load balancer's ARN: another ARN, another target group.
func TestTargetGroupFollowsAnImportedLoadBalancersArn(t *testing.T) {
	id := func(arn string) string {
		f := newFixture(t, false)
		f.lb = passthrough.ImportLoadBalancer(f.stack, jsii.String("Shared"), &passthrough.LoadBalancerAttributes{
			LoadBalancerArn: jsii.String(arn),
			SecurityGroupID: jsii.String(importedGroup),
			Vpc:             f.cluster.Vpc,
			AllowedClients:  []awsec2.IPeer{awsec2.Peer_Ipv4(jsii.String("203.0.113.0/24"))},
		})
		return *f.fargate("Api", 8443).TargetGroup.Node().Id()
	}
	if a, b := id(importedArn), id(importedArn); a != b {
		t.Errorf("the same load balancer gives target groups %s and %s", a, b)
	}
	if a, b := id(importedArn), id(strings.Replace(importedArn, "shared", "other", 1)); a == b {
		t.Errorf("two load balancers give the same target group %s", a)
	}
}
