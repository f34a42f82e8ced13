package passthrough_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
	"github.com/passthrough-cdk/passthrough/internal/cdktest"
)

const testListenerPort = 9443

// blueGreenFixture is the fixture with an internal load balancer, which the
// verification hook reaches at its own DNS name.
func blueGreenFixture(t *testing.T) *fixture {
	t.Helper()
	stack := cdktest.NewStack(t)
	cluster := passthrough.NewCluster(stack, jsii.String("Cluster"), nil)
	lb := passthrough.NewLoadBalancer(stack, jsii.String("LB"), &passthrough.LoadBalancerProps{Vpc: cluster.Vpc, InternetFacing: jsii.Bool(false)})
	return &fixture{stack: stack, cluster: cluster, lb: lb, image: awsecsImage()}
}

// blueGreen are the props of a blue/green service "Api" on port 443.
func (f *fixture) blueGreen() *passthrough.FargateServiceProps {
	p := f.service(443)
	p.DeploymentStrategy = awsecs.DeploymentStrategy_BLUE_GREEN
	p.BlueGreen = &passthrough.BlueGreenProps{
		TestListenerPort: jsii.Number(testListenerPort),
		ServerNames:      []string{"api.example.com"},
	}
	return &passthrough.FargateServiceProps{ServiceProps: p}
}

func TestBlueGreenTargetGroupsAreTwinsBehindProductionAndTestListeners(t *testing.T) {
	f := blueGreenFixture(t)
	p := f.blueGreen()
	p.HealthCheckInterval = awscdk.Duration_Seconds(jsii.Number(10))
	p.DeregistrationDelay = awscdk.Duration_Seconds(jsii.Number(300))
	p.ProxyProtocol = jsii.Bool(true)
	api := passthrough.NewFargateService(f.stack, jsii.String("Api"), p)
	tpl := f.template(t)

	primary := logicalID(t, f.stack, api.TargetGroup)
	alternate := logicalID(t, f.stack, api.BlueGreen.AlternateTargetGroup)
	tgs := tpl.Resources(typeTargetGroup)
	if len(tgs) != 2 {
		t.Fatalf("%d target groups, want 2", len(tgs))
	}
	// Same health check, deregistration delay, PROXY protocol and every
	// other property: only the logical ID differs.
	if !reflect.DeepEqual(tgs[primary], tgs[alternate]) {
		t.Errorf("alternate target group differs from the primary\nprimary:   %s\nalternate: %s", jsonString(tgs[primary]), jsonString(tgs[alternate]))
	}
	tpl.Has(typeTargetGroup, map[string]any{
		"HealthCheckIntervalSeconds": 10,
		"TargetType":                 "ip",
		"TargetGroupAttributes": assertions.Match_ArrayWith(&[]any{
			map[string]any{"Key": "deregistration_delay.timeout_seconds", "Value": "300"},
			map[string]any{"Key": "proxy_protocol_v2.enabled", "Value": "true"},
		}),
	})

	tpl.Count(typeListener, 2)
	tpl.Has(typeListener, map[string]any{
		"Port": 443, "Protocol": "TCP",
		"DefaultActions": []any{map[string]any{"Type": "forward", "TargetGroupArn": ref(primary)}},
	})
	tpl.Has(typeListener, map[string]any{
		"Port": testListenerPort, "Protocol": "TCP",
		"DefaultActions": []any{map[string]any{"Type": "forward", "TargetGroupArn": ref(alternate)}},
	})

	tpl.Has(typeService, map[string]any{
		"DeploymentConfiguration": assertions.Match_ObjectLike(&map[string]any{
			"Strategy":          "BLUE_GREEN",
			"BakeTimeInMinutes": 10,
			"Alarms":            assertions.Match_ObjectLike(&map[string]any{"Enable": true, "Rollback": true}),
		}),
		"LoadBalancers": []any{map[string]any{
			"ContainerName":  "app",
			"ContainerPort":  8443,
			"TargetGroupArn": ref(primary),
			"AdvancedConfiguration": map[string]any{
				"AlternateTargetGroupArn": ref(alternate),
				"ProductionListenerRule":  ref(logicalID(t, f.stack, api.Listener)),
				"TestListenerRule":        ref(logicalID(t, f.stack, api.BlueGreen.TestListener)),
				"RoleArn":                 assertions.Match_AnyValue(),
			},
		}},
	})
}

func TestBlueGreenHookRunsAfterTestTrafficShiftsWithLeastPrivilege(t *testing.T) {
	f := blueGreenFixture(t)
	api := passthrough.NewFargateService(f.stack, jsii.String("Api"), f.blueGreen())
	tpl := f.template(t)
	fn := logicalID(t, f.stack, api.BlueGreen.VerifyFunction)

	tpl.Has(typeService, map[string]any{
		"DeploymentConfiguration": assertions.Match_ObjectLike(&map[string]any{
			"LifecycleHooks": []any{map[string]any{
				"HookTargetArn":   getAtt(fn, "Arn"),
				"LifecycleStages": []any{"POST_TEST_TRAFFIC_SHIFT"},
				"RoleArn":         getAtt(logicalID(t, f.stack, api.BlueGreen.VerifyHookRole), "Arn"),
			}},
		}),
	})
	tpl.Has("AWS::Lambda::Function", map[string]any{
		"Runtime":       "provided.al2023",
		"Architectures": []any{"arm64"},
		"Handler":       "bootstrap",
		"VpcConfig": assertions.Match_ObjectLike(&map[string]any{
			"SecurityGroupIds": []any{getAtt(logicalID(t, f.stack, api.BlueGreen.VerifySecurityGroup), "GroupId")},
		}),
		"Environment": map[string]any{"Variables": map[string]any{
			"TLSCHECK_ADDRESS":       map[string]any{"Fn::Join": []any{"", []any{getAtt(logicalID(t, f.stack, f.lb.NLB), "DNSName"), ":9443"}}},
			"TLSCHECK_SERVER_NAMES":  "api.example.com",
			"TLSCHECK_MIN_DAYS_LEFT": "21",
		}},
	})

	// The role ECS assumes for the hook may invoke this function, nothing
	// else; the function's own role holds no managed policy and no
	// permission on secrets.
	tpl.Has("AWS::IAM::Policy", map[string]any{
		"PolicyDocument": map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
			"Action":   "lambda:InvokeFunction",
			"Effect":   "Allow",
			"Resource": getAtt(fn, "Arn"),
		}}},
	})
	tpl.Has("AWS::IAM::Role", map[string]any{
		"AssumeRolePolicyDocument": assertions.Match_ObjectLike(&map[string]any{"Statement": []any{assertions.Match_ObjectLike(&map[string]any{
			"Principal": map[string]any{"Service": "lambda.amazonaws.com"},
		})}}),
		"ManagedPolicyArns": assertions.Match_Absent(),
	})
	for id, policy := range tpl.Resources("AWS::IAM::Policy") {
		if s := jsonString(policy); strings.Contains(s, "secretsmanager:") && strings.Contains(s, "VerifyRole") {
			t.Errorf("policy %s of the verification hook reads secrets: %s", id, s)
		}
	}
	// ECS moves the listeners with the role AWS documents for it.
	tpl.Has("AWS::IAM::Role", map[string]any{
		"AssumeRolePolicyDocument": assertions.Match_ObjectLike(&map[string]any{"Statement": []any{assertions.Match_ObjectLike(&map[string]any{
			"Principal": map[string]any{"Service": "ecs.amazonaws.com"},
		})}}),
		"ManagedPolicyArns": []any{map[string]any{"Fn::Join": []any{"", []any{"arn:", map[string]any{"Ref": "AWS::Partition"}, ":iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"}}}},
	})
}

// The test listener admits the hook's security group and nothing else; the
// hook's group may reach the load balancer on that port only.
func TestBlueGreenTestListenerAdmitsOnlyTheHook(t *testing.T) {
	f := blueGreenFixture(t)
	api := passthrough.NewFargateService(f.stack, jsii.String("Api"), f.blueGreen())
	tpl := f.template(t)
	lbSG := logicalID(t, f.stack, f.lb.SecurityGroup)
	hookSG := logicalID(t, f.stack, api.BlueGreen.VerifySecurityGroup)

	onTestPort := 0
	for id, rule := range tpl.Resources(typeIngress) {
		if rule["FromPort"] == float64(testListenerPort) || rule["ToPort"] == float64(testListenerPort) {
			onTestPort++
			if !reflect.DeepEqual(rule["SourceSecurityGroupId"], getAtt(hookSG, "GroupId")) {
				t.Errorf("ingress %s admits %v on the test port", id, jsonString(rule))
			}
		}
	}
	if onTestPort != 1 {
		t.Errorf("%d ingress rules on the test port, want 1 (the hook's group)", onTestPort)
	}
	for _, g := range tpl.Resources(typeSecurityGroup) {
		rules, _ := g["SecurityGroupIngress"].([]any)
		for _, rule := range rules {
			if r := rule.(map[string]any); r["FromPort"] == float64(testListenerPort) {
				t.Errorf("inline ingress on the test port: %v", jsonString(r))
			}
		}
	}
	tpl.Has(typeSecurityGroup, map[string]any{
		"GroupDescription":    assertions.Match_StringLikeRegexp(jsii.String("^Passthrough blue/green TLS check")),
		"SecurityGroupEgress": []any{noEgress},
	})
	tpl.Has(typeEgress, map[string]any{
		"GroupId":                    getAtt(hookSG, "GroupId"),
		"DestinationSecurityGroupId": getAtt(lbSG, "GroupId"),
		"IpProtocol":                 "tcp", "FromPort": testListenerPort, "ToPort": testListenerPort,
	})
	egress := 0
	for _, rule := range tpl.Resources(typeEgress) {
		if reflect.DeepEqual(rule["GroupId"], getAtt(hookSG, "GroupId")) {
			egress++
		}
	}
	if egress != 1 {
		t.Errorf("the hook's group has %d egress rules, want 1", egress)
	}
}

// The deployment alarm and the healthy-targets alarm count the targets of
// both target groups: after a shift, production runs in the alternate one.
func TestBlueGreenAlarmsWatchBothTargetGroups(t *testing.T) {
	f := blueGreenFixture(t)
	passthrough.NewFargateService(f.stack, jsii.String("Api"), f.blueGreen())
	tpl := f.template(t)
	for _, name := range []string{"unhealthy-targets", "healthy-targets-below-floor"} {
		tpl.Has(typeAlarm, map[string]any{
			"AlarmName": assertions.Match_StringLikeRegexp(jsii.String("-" + name + "-[0-9a-f]+$")),
			"Metrics": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
				"Expression": "FILL(primary, 0) + FILL(alternate, 0)",
			})}),
		})
	}
}

// No prop but the listener port and the load balancer may change the
// production listener: CloudFormation would put the primary target group
// back into it after ECS shifted traffic to the alternate one.
func TestBlueGreenProductionListenerSurvivesChangesToOtherProps(t *testing.T) {
	listener := func(t *testing.T, change func(p *passthrough.FargateServiceProps)) (string, map[string]any, string) {
		f := blueGreenFixture(t)
		p := f.blueGreen()
		change(p)
		api := passthrough.NewFargateService(f.stack, jsii.String("Api"), p)
		tpl := f.template(t)
		id := logicalID(t, f.stack, api.Listener)
		return id, tpl.Resources(typeListener)[id], logicalID(t, f.stack, api.TargetGroup)
	}
	baseID, base, baseTG := listener(t, func(*passthrough.FargateServiceProps) {})
	for name, change := range map[string]func(p *passthrough.FargateServiceProps){
		"ContainerPort": func(p *passthrough.FargateServiceProps) { p.ContainerPort = jsii.Number(9000) },
		"DesiredCount":  func(p *passthrough.FargateServiceProps) { p.DesiredCount = jsii.Number(4) },
		"HealthCheckInterval": func(p *passthrough.FargateServiceProps) {
			p.HealthCheckInterval = awscdk.Duration_Seconds(jsii.Number(30))
		},
		"DeregistrationDelay": func(p *passthrough.FargateServiceProps) {
			p.DeregistrationDelay = awscdk.Duration_Seconds(jsii.Number(30))
		},
		"ProxyProtocol": func(p *passthrough.FargateServiceProps) { p.ProxyProtocol = jsii.Bool(true) },
		"Image": func(p *passthrough.FargateServiceProps) {
			p.Image = awsecs.ContainerImage_FromRegistry(jsii.String("example/tls:2"), nil)
		},
		"CPU and memory": func(p *passthrough.FargateServiceProps) {
			p.CPU, p.MemoryLimitMiB = jsii.Number(512), jsii.Number(1024)
		},
		"BakeTime": func(p *passthrough.FargateServiceProps) {
			p.BlueGreen.BakeTime = awscdk.Duration_Minutes(jsii.Number(60))
		},
		"TestListenerPort": func(p *passthrough.FargateServiceProps) { p.BlueGreen.TestListenerPort = jsii.Number(10443) },
		"ServerNames":      func(p *passthrough.FargateServiceProps) { p.BlueGreen.ServerNames = []string{"other.example.com"} },
	} {
		t.Run(name, func(t *testing.T) {
			id, got, tg := listener(t, change)
			if id != baseID || tg != baseTG || !reflect.DeepEqual(got, base) {
				t.Errorf("production listener changed\ngot:  %s %s %s\nwant: %s %s %s", id, tg, jsonString(got), baseID, baseTG, jsonString(base))
			}
		})
	}
}

func TestBlueGreenIsRefusedWhereECSDoesNotSupportIt(t *testing.T) {
	bg := func(p *fargateProps) {
		p.DeploymentStrategy = awsecs.DeploymentStrategy_BLUE_GREEN
		p.BlueGreen = &passthrough.BlueGreenProps{TestListenerPort: jsii.Number(testListenerPort), ServerNames: []string{"api.example.com"}}
	}
	runInvalidOn(t, blueGreenFixture, []invalidCase{
		{"EC2 bridge mode", func(f *fixture) {
			ec2 := newFixture(t, true)
			p := &passthrough.EC2ServiceProps{ServiceProps: ec2.service(443)}
			p.DeploymentStrategy = awsecs.DeploymentStrategy_BLUE_GREEN
			passthrough.NewEC2Service(ec2.stack, jsii.String("Api"), p)
		}, "passthrough: Test/Api: DeploymentStrategy BLUE_GREEN: needs ip targets, and EC2 services run in bridge mode with instance targets, which ECS blue/green deployments behind a Network Load Balancer do not support; use a Fargate service, or ROLLING"},
		{"linear", fargateWith(func(p *fargateProps) { p.DeploymentStrategy = awsecs.DeploymentStrategy_LINEAR }), "passthrough: Test/Api: DeploymentStrategy LINEAR: is not offered behind a Network Load Balancer: AWS documentation disagrees on whether ECS supports it there; use BLUE_GREEN or ROLLING"},
		{"canary", fargateWith(func(p *fargateProps) { p.DeploymentStrategy = awsecs.DeploymentStrategy_CANARY }), "passthrough: Test/Api: DeploymentStrategy CANARY: is not offered behind a Network Load Balancer: AWS documentation disagrees on whether ECS supports it there; use BLUE_GREEN or ROLLING"},
		{"BlueGreen without the strategy", fargateWith(func(p *fargateProps) { bg(p); p.DeploymentStrategy = "" }), "passthrough: Test/Api: BlueGreen: is set, but DeploymentStrategy is ROLLING; set DeploymentStrategy to awsecs.DeploymentStrategy_BLUE_GREEN, or leave BlueGreen nil"},
		{"strategy without BlueGreen", fargateWith(func(p *fargateProps) { bg(p); p.BlueGreen = nil }), "passthrough: Test/Api: BlueGreen: is required with DeploymentStrategy BLUE_GREEN: it names the test listener's port and the names the new tasks' certificate is checked for"},
		{"no test port", fargateWith(func(p *fargateProps) { bg(p); p.BlueGreen.TestListenerPort = nil }), "passthrough: Test/Api: BlueGreen.TestListenerPort: is required"},
		{"test port out of range", fargateWith(func(p *fargateProps) { bg(p); p.BlueGreen.TestListenerPort = jsii.Number(70000) }), "passthrough: Test/Api: BlueGreen.TestListenerPort 70000: must be a whole number from 1 to 65535"},
		{"test port is the listener port", fargateWith(func(p *fargateProps) { bg(p); p.BlueGreen.TestListenerPort = jsii.Number(443) }), "passthrough: Test/Api: BlueGreen.TestListenerPort 443: is the service's ListenerPort; the test listener needs a port of its own"},
		{"test port of another service", func(f *fixture) {
			f.fargate("Other", testListenerPort)
			fargateWith(bg)(f)
		}, "passthrough: Test/Api: BlueGreen.TestListenerPort 9443: is already used by Test/Other on load balancer Test/LB; give the test listener a port of its own"},
		{"listener port of another service's test listener", func(f *fixture) {
			fargateWith(bg)(f)
			f.fargate("Other", testListenerPort)
		}, "passthrough: Test/Other: ListenerPort 9443: is already used by Test/Api (test listener) on load balancer Test/LB; give each service its own listener port"},
		{"bake time beyond a day", fargateWith(func(p *fargateProps) { bg(p); p.BlueGreen.BakeTime = awscdk.Duration_Minutes(jsii.Number(1441)) }), "passthrough: Test/Api: BlueGreen.BakeTime 1441min: must be a whole number of minutes from 0 to 1440 (24 hours)"},
		{"bake time in seconds", fargateWith(func(p *fargateProps) { bg(p); p.BlueGreen.BakeTime = awscdk.Duration_Seconds(jsii.Number(90)) }), "passthrough: Test/Api: BlueGreen.BakeTime 1.5min: must be a whole number of minutes from 0 to 1440 (24 hours)"},
		{"no server names", fargateWith(func(p *fargateProps) { bg(p); p.BlueGreen.ServerNames = nil }), "passthrough: Test/Api: BlueGreen.ServerNames []: is empty; name at least one DNS name the service's certificate must be valid for (the first is sent as the TLS server name)"},
		{"bad fingerprint", fargateWith(func(p *fargateProps) { bg(p); p.BlueGreen.CertificateFingerprints = []string{"abc"} }), `passthrough: Test/Api: BlueGreen.CertificateFingerprints "abc": is not a SHA-256 fingerprint: 64 hexadecimal digits, with or without colons`},
		{"imported load balancer without a DNS name", func(f *fixture) {
			f.lb = importShared(f, passthrough.LoadBalancerAttributes{InternetFacing: jsii.Bool(false)})
			fargateWith(bg)(f)
		}, "passthrough: Test/Api: DeploymentStrategy BLUE_GREEN: verifies the new tasks through the test listener, and needs the DNS name of imported load balancer Test/Shared; set LoadBalancerAttributes.DNSName or PrivateDNSName"},
		{"test listener over the listener quota", func(f *fixture) {
			f.lb = importShared(f, passthrough.LoadBalancerAttributes{InternetFacing: jsii.Bool(false), DNSName: jsii.String("shared.example"), ListenerPortsInUse: ports(2000, 49)})
			fargateWith(bg)(f)
		}, "passthrough: Test/Api: BlueGreen.TestListenerPort 9443: would be listener 51 on load balancer Test/Shared, over the quota of 50 listeners per Network Load Balancer"},
		{"the hook's rule over the inbound rule quota", func(f *fixture) {
			var clients []awsec2.IPeer
			for i := range 60 {
				clients = append(clients, awsec2.Peer_Ipv4(jsii.String(fmt.Sprintf("198.51.100.%d/32", i))))
			}
			f.lb = importShared(f, passthrough.LoadBalancerAttributes{InternetFacing: jsii.Bool(false), DNSName: jsii.String("shared.example"), AllowedClients: clients})
			fargateWith(bg)(f)
		}, "passthrough: Test/Api: BlueGreen.TestListenerPort 9443: would bring the security group of load balancer Test/Shared to 61 inbound rules, over the default quota of 60"},
		{"internet-facing without a private path", func(f *fixture) {
			lb := passthrough.NewLoadBalancer(f.stack, jsii.String("Public"), &passthrough.LoadBalancerProps{Vpc: f.cluster.Vpc})
			p := &passthrough.FargateServiceProps{ServiceProps: f.service(443)}
			p.LoadBalancer = lb
			bg(p)
			passthrough.NewFargateService(f.stack, jsii.String("Api"), p)
		}, "passthrough: Test/Api: DeploymentStrategy BLUE_GREEN: verifies the new tasks from inside the VPC through the test listener, and internet-facing load balancer Test/Public has no private path: its public addresses are reached through the NAT gateway, where its security group cannot tell the hook apart; call AddPrivateDNSName before creating the service"},
		{"dual stack", func(f *fixture) {
			vpc := awsec2.NewVpc(f.stack, jsii.String("DualVpc"), &awsec2.VpcProps{IpProtocol: awsec2.IpProtocol_DUAL_STACK, NatGateways: jsii.Number(1)})
			cluster := passthrough.NewCluster(f.stack, jsii.String("DualCluster"), &passthrough.ClusterProps{Vpc: vpc})
			lb := passthrough.NewLoadBalancer(f.stack, jsii.String("Dual"), &passthrough.LoadBalancerProps{Vpc: vpc, DualStack: jsii.Bool(true), InternetFacing: jsii.Bool(false)})
			p := &passthrough.FargateServiceProps{ServiceProps: passthrough.ServiceProps{Cluster: cluster, LoadBalancer: lb, Image: f.image}}
			bg(p)
			passthrough.NewFargateService(f.stack, jsii.String("Api"), p)
		}, "passthrough: Test/Api: DeploymentStrategy BLUE_GREEN: needs an IPv4 load balancer, and Test/Dual is dual stack: Amazon ECS documents blue/green deployments behind a Network Load Balancer of IP address type IPv4 only"},
	})
}

// An internet-facing load balancer with a private name is checked at that
// name, once the record exists.
func TestBlueGreenHookUsesThePrivatePathOfAnInternetFacingLoadBalancer(t *testing.T) {
	f := newFixture(t, false)
	zone := awsroute53.NewPrivateHostedZone(f.stack, jsii.String("Zone"), &awsroute53.PrivateHostedZoneProps{ZoneName: jsii.String("internal.example"), Vpc: f.cluster.Vpc})
	f.lb.AddPrivateDNSName(zone, "lb")
	api := passthrough.NewFargateService(f.stack, jsii.String("Api"), f.blueGreen())
	tpl := f.template(t)
	tpl.Has("AWS::Lambda::Function", map[string]any{
		"Environment": map[string]any{"Variables": assertions.Match_ObjectLike(&map[string]any{
			"TLSCHECK_ADDRESS": "lb.internal.example:9443",
		})},
	})
	deps := dependsOn(t, tpl, logicalID(t, f.stack, api.BlueGreen.VerifyFunction))
	found := false
	for id := range tpl.Resources("AWS::Route53::RecordSet") {
		found = found || deps[id]
	}
	if !found {
		t.Errorf("the hook does not wait for the private record: depends on %v", deps)
	}
}
