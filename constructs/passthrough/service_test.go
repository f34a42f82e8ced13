package passthrough_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
	"github.com/passthrough-cdk/passthrough/internal/cdktest"
)

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

func TestListenerIsTCPAndCarriesNoCertificate(t *testing.T) {
	f := newFixture(t, false)
	f.fargate("Api", 443)
	tpl := f.template(t)

	tpl.Count(typeListener, 1)
	tpl.Has(typeListener, map[string]any{
		"Port":         443,
		"Protocol":     "TCP",
		"Certificates": assertions.Match_Absent(),
		"SslPolicy":    assertions.Match_Absent(),
		"AlpnPolicy":   assertions.Match_Absent(),
	})
	for id, props := range tpl.Resources(typeListener) {
		if props["Protocol"] != "TCP" {
			t.Errorf("listener %s protocol %v, want TCP", id, props["Protocol"])
		}
	}
	tpl.Count("AWS::ElasticLoadBalancingV2::ListenerCertificate", 0)
	tpl.Count("AWS::CertificateManager::Certificate", 0)
}

func TestFargateServiceTargetsTasksByIPOnContainerPort(t *testing.T) {
	f := newFixture(t, false)
	f.fargate("Api", 443)
	tpl := f.template(t)

	tpl.Has(typeTaskDef, map[string]any{
		"NetworkMode":             "awsvpc",
		"RequiresCompatibilities": []any{"FARGATE"},
		"Cpu":                     "256",
		"Memory":                  "512",
		"ContainerDefinitions": []any{assertions.Match_ObjectLike(&map[string]any{
			"Name":                   "app",
			"PortMappings":           []any{map[string]any{"ContainerPort": 8443, "HostPort": 8443, "Protocol": "tcp"}},
			"ReadonlyRootFilesystem": true,
			"StopTimeout":            30,
		})},
	})
	tpl.Has(typeTargetGroup, map[string]any{
		"Protocol":   "TCP",
		"Port":       8443,
		"TargetType": "ip",
	})
	tpl.Has(typeService, map[string]any{
		"LaunchType": "FARGATE",
		"NetworkConfiguration": map[string]any{"AwsvpcConfiguration": assertions.Match_ObjectLike(&map[string]any{
			"AssignPublicIp": "DISABLED",
		})},
		"LoadBalancers": []any{map[string]any{
			"ContainerName":  "app",
			"ContainerPort":  8443,
			"TargetGroupArn": ref(onlyID(t, tpl, typeTargetGroup)),
		}},
	})
}

func TestEC2ServiceUsesBridgeModeDynamicHostPortsAndInstanceTargets(t *testing.T) {
	f := newFixture(t, true)
	f.ec2("Api", 443)
	tpl := f.template(t)

	tpl.Has(typeTaskDef, map[string]any{
		"NetworkMode":             "bridge",
		"RequiresCompatibilities": []any{"EC2"},
		"ContainerDefinitions": []any{assertions.Match_ObjectLike(&map[string]any{
			"PortMappings": []any{map[string]any{"ContainerPort": 8443, "HostPort": 0, "Protocol": "tcp"}},
			"Cpu":          256,
			"Memory":       512,
		})},
	})
	tpl.Has(typeTargetGroup, map[string]any{
		"Protocol":        "TCP",
		"TargetType":      "instance",
		"HealthCheckPort": "traffic-port",
	})
	tpl.Has(typeService, map[string]any{
		"CapacityProviderStrategy": []any{map[string]any{
			"CapacityProvider": ref(onlyID(t, tpl, "AWS::ECS::CapacityProvider")),
			"Weight":           1,
		}},
		"LaunchType": assertions.Match_Absent(),
		"PlacementStrategies": []any{
			map[string]any{"Type": "spread", "Field": "attribute:ecs.availability-zone"},
			map[string]any{"Type": "spread", "Field": "instanceId"},
		},
	})
}

func TestTargetGroupHealthChecksAndDrainingDefaults(t *testing.T) {
	for _, ec2 := range []bool{false, true} {
		f := newFixture(t, ec2)
		if ec2 {
			f.ec2("Api", 443)
		} else {
			f.fargate("Api", 443)
		}
		f.template(t).Has(typeTargetGroup, map[string]any{
			"HealthCheckProtocol":        "TCP",
			"HealthCheckPort":            "traffic-port",
			"HealthCheckIntervalSeconds": 5,
			"HealthCheckTimeoutSeconds":  5,
			"HealthyThresholdCount":      2,
			"UnhealthyThresholdCount":    2,
			"TargetGroupAttributes": assertions.Match_ArrayWith(&[]any{
				map[string]any{"Key": "deregistration_delay.timeout_seconds", "Value": "120"},
				map[string]any{"Key": "preserve_client_ip.enabled", "Value": "false"},
			}),
		})
	}
}

func TestDeploymentDefaultsRollBackAndKeepCapacity(t *testing.T) {
	f := newFixture(t, false)
	f.fargate("Api", 443)
	f.template(t).Has(typeService, map[string]any{
		"DesiredCount":                  2,
		"HealthCheckGracePeriodSeconds": 60,
		"DeploymentConfiguration": map[string]any{
			"DeploymentCircuitBreaker": map[string]any{"Enable": true, "Rollback": true},
			"MinimumHealthyPercent":    100,
			"MaximumPercent":           200,
		},
	})
	f.template(t).Has("AWS::Logs::LogGroup", map[string]any{"RetentionInDays": 30})
}

func TestOverriddenSettingsReachTheTemplate(t *testing.T) {
	f := newFixture(t, false)
	props := f.service(443)
	props.DesiredCount = jsii.Number(4)
	props.ContainerPort = jsii.Number(9000)
	props.HealthyThresholdCount = jsii.Number(3)
	props.MinHealthyPercent = jsii.Number(50)
	props.ReadonlyRootFilesystem = jsii.Bool(false)
	newFargate(f, "Api", props, 1024, 2048)
	tpl := f.template(t)
	tpl.Has(typeService, map[string]any{
		"DesiredCount":            4,
		"DeploymentConfiguration": assertions.Match_ObjectLike(&map[string]any{"MinimumHealthyPercent": 50}),
	})
	// The container port is where ECS registers each task; the target
	// group's own port stays the same (see naming_test.go).
	tpl.Has(typeTargetGroup, map[string]any{"Port": 8443, "HealthyThresholdCount": 3, "HealthCheckPort": "traffic-port"})
	tpl.Has(typeService, map[string]any{"LoadBalancers": []any{assertions.Match_ObjectLike(&map[string]any{"ContainerPort": 9000})}})
	tpl.Has(typeIngress, map[string]any{"FromPort": 9000, "ToPort": 9000})
	tpl.Has(typeTaskDef, map[string]any{
		"Cpu":    "1024",
		"Memory": "2048",
		"ContainerDefinitions": []any{assertions.Match_ObjectLike(&map[string]any{
			"ReadonlyRootFilesystem": false,
			"PortMappings":           []any{map[string]any{"ContainerPort": 9000, "HostPort": 9000, "Protocol": "tcp"}},
		})},
	})
}

func TestEachServiceGetsItsOwnListenerAndTargetGroup(t *testing.T) {
	f := newFixture(t, false)
	api := f.fargate("Api", 443)
	admin := f.fargate("Admin", 9443)
	tpl := f.template(t)

	tpl.Count(typeListener, 2)
	tpl.Count(typeTargetGroup, 2)
	for _, svc := range []struct {
		port     float64
		listener string
		tg       string
	}{
		{443, logicalID(t, f.stack, api.Listener), logicalID(t, f.stack, api.TargetGroup)},
		{9443, logicalID(t, f.stack, admin.Listener), logicalID(t, f.stack, admin.TargetGroup)},
	} {
		tpl.Has(typeListener, map[string]any{
			"Port":           svc.port,
			"DefaultActions": []any{map[string]any{"Type": "forward", "TargetGroupArn": ref(svc.tg)}},
		})
	}
}

// A service that places tasks with a capacity provider strategy (every EC2
// service of a new cluster, and Fargate Spot) waits for the cluster's
// capacity provider association, which must also outlive it on delete; a
// plain Fargate service has no strategy and needs none.
func TestServicesWithCapacityProvidersWaitForTheAssociation(t *testing.T) {
	f := newFixture(t, true)
	scaled := f.service(443)
	scaled.AutoScaling = &passthrough.AutoScalingProps{MaxCapacity: jsii.Number(4)}
	onEC2 := passthrough.NewEC2Service(f.stack, jsii.String("OnEC2"), &passthrough.EC2ServiceProps{ServiceProps: scaled})
	onSpot := passthrough.NewFargateService(f.stack, jsii.String("OnSpot"), &passthrough.FargateServiceProps{
		ServiceProps: f.service(8443), Spot: jsii.Bool(true),
	})
	plain := f.fargate("Plain", 9443)
	tpl := f.template(t)
	association := onlyID(t, tpl, "AWS::ECS::ClusterCapacityProviderAssociations")
	for _, svc := range []*passthrough.Service{onEC2, onSpot} {
		id := logicalID(t, f.stack, svc.Service)
		if deps := dependsOn(t, tpl, id); !deps[association] {
			t.Errorf("%s depends on %v, not on the capacity provider association %s", *svc.Node().Path(), deps, association)
		}
	}
	if deps := dependsOn(t, tpl, logicalID(t, f.stack, plain.Service)); deps[association] {
		t.Errorf("Fargate service without a strategy depends on the association: %v", deps)
	}
	// Only the ECS service itself waits, not the scaling resources beneath
	// its construct.
	targets := tpl.Resources("AWS::ApplicationAutoScaling::ScalableTarget")
	if len(targets) != 1 {
		t.Fatalf("%d scalable targets, want 1", len(targets))
	}
	for id := range targets {
		if dependsOn(t, tpl, id)[association] {
			t.Errorf("scalable target %s depends on the association", id)
		}
	}
}

// Services in another stack than their cluster depend on the cluster's
// stack, which already owns everything they reference: the ordering adds no
// dependency back, so the app synthesizes and the stacks deploy in order.
func TestCapacityProviderOrderingAcrossStacksHasNoCycle(t *testing.T) {
	app := cdktest.NewApp(t, cdktest.AppContext(t))
	network := awscdk.NewStack(app, jsii.String("Network"), nil)
	cluster := passthrough.NewCluster(network, jsii.String("Cluster"), &passthrough.ClusterProps{EC2: &passthrough.EC2CapacityProps{}})
	lb := passthrough.NewLoadBalancer(network, jsii.String("LB"), &passthrough.LoadBalancerProps{Vpc: cluster.Vpc})
	svcs := awscdk.NewStack(app, jsii.String("Services"), nil)
	passthrough.NewEC2Service(svcs, jsii.String("OnEC2"), &passthrough.EC2ServiceProps{ServiceProps: passthrough.ServiceProps{
		Cluster: cluster, LoadBalancer: lb, Image: awsecsImage(),
	}})
	passthrough.NewFargateService(svcs, jsii.String("OnSpot"), &passthrough.FargateServiceProps{Spot: jsii.Bool(true), ServiceProps: passthrough.ServiceProps{
		Cluster: cluster, LoadBalancer: lb, Image: awsecsImage(), ListenerPort: jsii.Number(8443),
	}})
	assembly := cdktest.Synth(t, app)
	var networkDeps, serviceDeps []string
	for _, d := range *assembly.GetStackByName(jsii.String("Network")).Dependencies() {
		networkDeps = append(networkDeps, *d.Id())
	}
	for _, d := range *assembly.GetStackByName(jsii.String("Services")).Dependencies() {
		serviceDeps = append(serviceDeps, *d.Id())
	}
	if strings.Contains(strings.Join(networkDeps, " "), "Services") {
		t.Errorf("the cluster's stack depends on %v", networkDeps)
	}
	if !strings.Contains(strings.Join(serviceDeps, " "), "Network") {
		t.Errorf("the services' stack depends on %v, not on the cluster's", serviceDeps)
	}
}

// ProxyProtocol turns on PROXY protocol v2 on the service's target group,
// and only there.
func TestProxyProtocolIsSetOnTheTargetGroup(t *testing.T) {
	f := newFixture(t, false)
	p := f.service(443)
	p.ProxyProtocol = jsii.Bool(true)
	withProxy := newFargate(f, "Api", p, 256, 512)
	without := f.fargate("Admin", 9443)
	tpl := f.template(t)
	for svc, want := range map[*passthrough.Service]string{withProxy: "true", without: "false"} {
		props := tpl.Resources(typeTargetGroup)[logicalID(t, f.stack, svc.TargetGroup)]
		raw, _ := json.Marshal(props["TargetGroupAttributes"])
		if !strings.Contains(string(raw), `{"Key":"proxy_protocol_v2.enabled","Value":"`+want+`"}`) {
			t.Errorf("%s: target group attributes %s, want proxy_protocol_v2.enabled=%s", *svc.Node().Path(), raw, want)
		}
	}
}

// The certificate metric's series is unique per stack and service by
// default, so two stacks with an "Api" never share one; SERVICE_NAME set in
// Environment still wins.
func TestCertificateMetricSeriesIsUniquePerStackAndService(t *testing.T) {
	app := cdktest.NewApp(t, nil)
	secret := func(stack awscdk.Stack) *passthrough.Certificate {
		return &passthrough.Certificate{Secret: awssecretsmanager.Secret_FromSecretCompleteArn(stack, jsii.String("Cert"), jsii.String(certArn))}
	}
	dimension := func(stack awscdk.Stack) string {
		for _, a := range cdktest.TemplateOf(t, stack).Resources(typeAlarm) {
			if a["MetricName"] == "CertificateDaysToExpiry" {
				raw, _ := json.Marshal(a["Dimensions"])
				return string(raw)
			}
		}
		t.Fatalf("%s has no certificate expiry alarm", *stack.StackName())
		return ""
	}
	var stacks []awscdk.Stack
	for i, name := range []string{"Payments", "Ledger", "Named"} {
		stack := awscdk.NewStack(app, jsii.String(name), nil)
		cluster := passthrough.NewCluster(stack, jsii.String("Cluster"), nil)
		lb := passthrough.NewLoadBalancer(stack, jsii.String("LB"), &passthrough.LoadBalancerProps{Vpc: cluster.Vpc})
		props := passthrough.ServiceProps{Cluster: cluster, LoadBalancer: lb, Image: awsecsImage(), Certificate: secret(stack)}
		if i == 2 {
			props.Environment = map[string]*string{passthrough.EnvServiceName: jsii.String("ledger-api")}
		}
		passthrough.NewFargateService(stack, jsii.String("Api"), &passthrough.FargateServiceProps{ServiceProps: props})
		stacks = append(stacks, stack)
	}
	var got []string
	for _, stack := range stacks {
		got = append(got, dimension(stack))
	}
	want := []string{
		`[{"Name":"ServiceName","Value":"Payments/Api"}]`,
		`[{"Name":"ServiceName","Value":"Ledger/Api"}]`,
		`[{"Name":"ServiceName","Value":"ledger-api"}]`,
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("stack %d: certificate alarm dimensions %s, want %s", i, got[i], want[i])
		}
	}
}
