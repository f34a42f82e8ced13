package test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"

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
)

// The load balancer never terminates TLS: TCP listeners only, and no
// certificate or TLS policy anywhere in the template.
func TestExamplesPassTLSThrough(t *testing.T) {
	forEachGuarantee(t, func(t *testing.T, tpl *cdktest.Template) {
		listeners := tpl.Resources(typeListener)
		if len(listeners) == 0 {
			t.Fatal("no listener")
		}
		for id, l := range listeners {
			if l["Protocol"] != "TCP" {
				t.Errorf("listener %s protocol %v, want TCP", id, l["Protocol"])
			}
		}
		raw, _ := json.Marshal(tpl.JSON())
		for _, key := range []string{`"Certificates"`, `"SslPolicy"`, `"AlpnPolicy"`, "AWS::ElasticLoadBalancingV2::ListenerCertificate"} {
			if strings.Contains(string(raw), key) {
				t.Errorf("template contains %s", key)
			}
		}
		// An ACM certificate only as an exportable one, which the
		// container serves (passthrough.NewExportedCertificate); no
		// listener names one (no "Certificates" above).
		for id, c := range tpl.Resources("AWS::CertificateManager::Certificate") {
			if c["CertificateExport"] != "ENABLED" {
				t.Errorf("ACM certificate %s is not exportable: only the load balancer could use it", id)
			}
		}
	})
}

// Each service has its own target group behind its own listener, and the
// target group checks health over TCP on the traffic port with the
// passthrough defaults. Expected values are literals, not the package's
// constants, so that changing a default fails here as well as in the
// snapshot.
func TestExamplesTargetGroupPerService(t *testing.T) {
	forEachGuarantee(t, func(t *testing.T, tpl *cdktest.Template) {
		services := tpl.Resources(typeService)
		groups := tpl.Resources(typeTargetGroup)
		listeners := tpl.Resources(typeListener)
		// A blue/green service has a second pair: its alternate target
		// group behind its test listener.
		pairs := len(services)
		for _, svc := range services {
			if d, _ := svc["DeploymentConfiguration"].(map[string]any); d["Strategy"] == "BLUE_GREEN" {
				pairs++
			}
		}
		if len(groups) != pairs || len(listeners) != pairs {
			t.Errorf("%d services, %d target groups, %d listeners; want one of each per service and one more per blue/green service (%d)", len(services), len(groups), len(listeners), pairs)
		}
		forwarded := map[string]string{}
		for id, l := range listeners {
			tg := refOf(t, forwardTarget(t, l))
			if other, dup := forwarded[tg]; dup {
				t.Errorf("listeners %s and %s share target group %s", other, id, tg)
			}
			forwarded[tg] = id
		}
		for id, svc := range services {
			lbs, _ := svc["LoadBalancers"].([]any)
			if len(lbs) != 1 {
				t.Errorf("service %s has %d load balancer attachments, want 1", id, len(lbs))
				continue
			}
			attachment := lbs[0].(map[string]any)
			registered := []any{attachment["TargetGroupArn"]}
			if adv, ok := attachment["AdvancedConfiguration"].(map[string]any); ok {
				registered = append(registered, adv["AlternateTargetGroupArn"])
			}
			for _, r := range registered {
				if tg := refOf(t, r); forwarded[tg] == "" {
					t.Errorf("service %s is registered in target group %s, which no listener forwards to", id, tg)
				}
			}
		}
		tpl.CountWith(typeTargetGroup, map[string]any{
			"Protocol":                   "TCP",
			"HealthCheckProtocol":        "TCP",
			"HealthCheckPort":            "traffic-port",
			"HealthCheckIntervalSeconds": 5,
			"HealthyThresholdCount":      2,
			"UnhealthyThresholdCount":    2,
			"TargetGroupAttributes": assertions.Match_ArrayWith(&[]any{
				map[string]any{"Key": "deregistration_delay.timeout_seconds", "Value": "120"},
				map[string]any{"Key": "preserve_client_ip.enabled", "Value": "false"},
			}),
		}, len(groups))
	})
}

// Fargate tasks are ip targets on their container port; EC2 tasks use bridge
// networking with dynamic host ports and are instance targets.
func TestExamplesLaunchTypeNetworking(t *testing.T) {
	forEachGuarantee(t, func(t *testing.T, tpl *cdktest.Template) {
		for id, td := range tpl.Resources(typeTaskDef) {
			mode := td["NetworkMode"]
			for _, c := range td["ContainerDefinitions"].([]any) {
				for _, pm := range c.(map[string]any)["PortMappings"].([]any) {
					m := pm.(map[string]any)
					switch mode {
					case "bridge":
						if m["HostPort"] != 0.0 {
							t.Errorf("%s: bridge port mapping %v, want HostPort 0", id, m)
						}
					case "awsvpc":
						if m["HostPort"] != m["ContainerPort"] {
							t.Errorf("%s: awsvpc port mapping %v, want HostPort = ContainerPort", id, m)
						}
					default:
						t.Errorf("%s: network mode %v, want bridge or awsvpc", id, mode)
					}
				}
			}
			want := map[any]string{"bridge": "instance", "awsvpc": "ip"}[mode]
			tpl.CountWith(typeTargetGroup, map[string]any{"TargetType": want}, len(tpl.Resources(typeTargetGroup)))
		}
	})
}

// Deployments roll back by themselves and never lower capacity.
func TestExamplesDeploymentSafety(t *testing.T) {
	forEachGuarantee(t, func(t *testing.T, tpl *cdktest.Template) {
		tpl.CountWith(typeService, map[string]any{
			"HealthCheckGracePeriodSeconds": 60,
			"DeploymentConfiguration": map[string]any{
				"DeploymentCircuitBreaker": map[string]any{"Enable": true, "Rollback": true},
				"MinimumHealthyPercent":    100,
				"MaximumPercent":           200,
			},
		}, len(tpl.Resources(typeService)))
		// At least two tasks: the desired count, or with auto scaling (which
		// owns the count, so the template leaves it out) the minimum.
		scaledMin := map[string]float64{}
		for _, target := range tpl.Resources("AWS::ApplicationAutoScaling::ScalableTarget") {
			raw, _ := json.Marshal(target["ResourceId"])
			for id := range tpl.Resources(typeService) {
				if strings.Contains(string(raw), `"`+id+`"`) {
					scaledMin[id] = target["MinCapacity"].(float64)
				}
			}
		}
		for id, svc := range tpl.Resources(typeService) {
			n, _ := svc["DesiredCount"].(float64)
			if min, scaled := scaledMin[id]; scaled {
				if svc["DesiredCount"] != nil || min < 2 {
					t.Errorf("auto scaled service %s: desired count %v (want none), minimum %v (want at least 2)", id, svc["DesiredCount"], min)
				}
			} else if n < 2 {
				t.Errorf("service %s desired count %v, want at least 2", id, svc["DesiredCount"])
			}
		}
		tpl.Has("AWS::ECS::Cluster", map[string]any{
			"ClusterSettings": []any{map[string]any{"Name": "containerInsights", "Value": "enabled"}},
		})
		for id, lg := range tpl.Resources("AWS::Logs::LogGroup") {
			if lg["RetentionInDays"] == nil {
				t.Errorf("log group %s keeps logs forever", id)
			}
		}
		for id, td := range tpl.Resources(typeTaskDef) {
			for _, c := range td["ContainerDefinitions"].([]any) {
				m := c.(map[string]any)
				if m["ReadonlyRootFilesystem"] != true {
					t.Errorf("%s: container %v has a writable root file system", id, m["Name"])
				}
				if _, ok := m["LogConfiguration"]; !ok {
					t.Errorf("%s: container %v has no log configuration", id, m["Name"])
				}
			}
		}
	})
}

// The NLB is created with its security group, which clients reach on the
// listener ports only; targets are reachable from that group only; the only
// other ingress is HTTPS into the VPC endpoints' group from the stack's own
// groups; and the DNS name is a stack output.
func TestExamplesSecurityGroupsAdmitOnlyTheListenerPath(t *testing.T) {
	forEachGuarantee(t, func(t *testing.T, tpl *cdktest.Template) {
		nlbGroups := map[string]bool{}
		for id, lb := range tpl.Resources(typeLoadBalancer) {
			sgs, _ := lb["SecurityGroups"].([]any)
			if len(sgs) == 0 {
				t.Errorf("load balancer %s has no security group (one can only be attached at creation)", id)
			}
			for _, sg := range sgs {
				nlbGroups[getAttOf(t, sg)] = true
			}
		}
		var listenerPorts []float64
		for _, l := range tpl.Resources(typeListener) {
			listenerPorts = append(listenerPorts, l["Port"].(float64))
		}
		for id, sg := range tpl.Resources(typeSecurityGroup) {
			egress, _ := sg["SecurityGroupEgress"].([]any)
			if len(egress) == 0 {
				t.Errorf("security group %s has no inline egress rule, so EC2 gives it allow-all egress", id)
			}
			ingress, _ := sg["SecurityGroupIngress"].([]any)
			if !nlbGroups[id] {
				if len(ingress) > 0 {
					t.Errorf("security group %s admits %v; only load balancer groups take client traffic", id, ingress)
				}
				continue
			}
			for _, r := range ingress {
				rule := r.(map[string]any)
				from, to := rule["FromPort"].(float64), rule["ToPort"].(float64)
				if rule["IpProtocol"] != "tcp" || from != to || !slices.Contains(listenerPorts, from) {
					t.Errorf("load balancer group %s admits %v, which is not a listener port", id, rule)
				}
			}
		}
		endpointGroups := map[string]bool{}
		for id, sg := range tpl.Resources(typeSecurityGroup) {
			if desc, _ := sg["GroupDescription"].(string); strings.HasPrefix(desc, "VPC interface endpoints") {
				endpointGroups[id] = true
			}
		}
		// Separate ingress rules: only from a load balancer's group, or
		// HTTPS from the stack's own groups into the endpoints' group, or
		// path MTU discovery's ICMP message into a load balancer's group.
		for id, rule := range tpl.Resources(typeIngress) {
			if nlbGroups[getAttOf(t, rule["GroupId"])] && isPathMTUDiscovery(rule) {
				continue
			}
			src := getAttOf(t, rule["SourceSecurityGroupId"])
			if endpointGroups[getAttOf(t, rule["GroupId"])] && rule["FromPort"] == 443.0 && rule["ToPort"] == 443.0 {
				continue
			}
			// A caller into a load balancer's group on a listener port
			// (Service.GrantConnect), or into a consumer endpoint's group.
			if isCallerIngress(t, tpl, rule, nlbGroups, listenerPorts) {
				continue
			}
			if !nlbGroups[src] {
				t.Errorf("ingress rule %s admits %v, not a load balancer's security group", id, rule)
			}
			if rule["CidrIp"] != nil || rule["CidrIpv6"] != nil {
				t.Errorf("ingress rule %s admits an address range: %v", id, rule)
			}
		}
		outputs, _ := tpl.JSON()["Outputs"].(map[string]any)
		found := false
		for _, o := range outputs {
			v, _ := json.Marshal(o.(map[string]any)["Value"])
			found = found || strings.Contains(string(v), `"DNSName"`)
		}
		if !found {
			t.Error("no stack output holds the load balancer's DNS name")
		}
	})
}

func forwardTarget(t *testing.T, listener map[string]any) any {
	t.Helper()
	actions, _ := listener["DefaultActions"].([]any)
	if len(actions) != 1 {
		t.Fatalf("listener has %d default actions, want 1 forward", len(actions))
	}
	a := actions[0].(map[string]any)
	if a["Type"] != "forward" {
		t.Fatalf("listener action %v, want forward", a)
	}
	return a["TargetGroupArn"]
}

// refOf returns the logical ID in {"Ref": ID}.
func refOf(t *testing.T, v any) string {
	t.Helper()
	m, _ := v.(map[string]any)
	id, ok := m["Ref"].(string)
	if !ok {
		t.Fatalf("%v is not a Ref", v)
	}
	return id
}

// getAttOf returns the logical ID in {"Fn::GetAtt": [ID, attr]}.
func getAttOf(t *testing.T, v any) string {
	t.Helper()
	m, _ := v.(map[string]any)
	ga, _ := m["Fn::GetAtt"].([]any)
	if len(ga) != 2 {
		t.Fatalf("%v is not a Fn::GetAtt", v)
	}
	return ga[0].(string)
}
