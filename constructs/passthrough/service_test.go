package passthrough_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
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
