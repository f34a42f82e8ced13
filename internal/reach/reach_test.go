package reach

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/passthrough-cdk/passthrough/internal/cfn"
	_ "github.com/passthrough-cdk/passthrough/internal/golden" // accepts the -update of `go test ./... -update`
)

// Logical IDs of the hand-written templates in testdata/.
const (
	lbGroup       = "LbSecurityGroupA28D6DD7"
	apiGroup      = "ApiSecurityGroup2D7B9747"
	instanceGroup = "InstanceSecurityGroup863378B5"
	listenerID    = "ApiListener304FEC63"
)

// edit changes a decoded template.
type edit func(tpl map[string]any)

// js decodes a JSON literal, so that tests write CloudFormation the way
// templates do.
func js(s string) any {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		panic("bad JSON in test: " + err.Error() + ": " + s)
	}
	return v
}

func resources(tpl map[string]any) map[string]any { return tpl["Resources"].(map[string]any) }

func props(tpl map[string]any, id string) map[string]any {
	r, ok := resources(tpl)[id].(map[string]any)
	if !ok {
		panic("no resource " + id)
	}
	return r["Properties"].(map[string]any)
}

// set sets a property of a resource to a JSON value; "null" deletes it.
func set(id, property, value string) edit {
	return func(tpl map[string]any) {
		if value == "null" {
			delete(props(tpl, id), property)
			return
		}
		props(tpl, id)[property] = js(value)
	}
}

// add adds a resource of type typ with the properties in JSON.
func add(id, typ, properties string) edit {
	return func(tpl map[string]any) {
		resources(tpl)[id] = map[string]any{"Type": typ, "Properties": js(properties)}
	}
}

func remove(ids ...string) edit {
	return func(tpl map[string]any) {
		for _, id := range ids {
			delete(resources(tpl), id)
		}
	}
}

// appendTo appends a JSON object to a resource's list property, such as an
// inline rule.
func appendTo(id, property, value string) edit {
	return func(tpl map[string]any) {
		p := props(tpl, id)
		l, _ := p[property].([]any)
		p[property] = append(l, js(value))
	}
}

// endpoint adds an interface VPC endpoint whose security group has the
// given inline ingress rule.
func endpoint(rule string) []edit {
	return []edit{
		add("EcrSecurityGroup", cfn.TypeSecurityGroup, `{"GroupDescription": "ECR endpoint", "VpcId": {"Ref": "Vpc8378EB38"},
			"SecurityGroupIngress": [`+rule+`],
			"SecurityGroupEgress": [{"CidrIp": "0.0.0.0/0", "IpProtocol": "-1"}]}`),
		add("EcrEndpoint", cfn.TypeVPCEndpoint, `{"VpcEndpointType": "Interface", "VpcId": {"Ref": "Vpc8378EB38"},
			"ServiceName": {"Fn::Join": ["", ["com.amazonaws.", {"Ref": "AWS::Region"}, ".ecr.api"]]},
			"SecurityGroupIds": [{"Fn::GetAtt": ["EcrSecurityGroup", "GroupId"]}], "SubnetIds": [{"Ref": "VpcPrivate1"}]}`),
	}
}

func load(t *testing.T, name string, edits ...edit) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var tpl map[string]any
	if err := json.Unmarshal(data, &tpl); err != nil {
		t.Fatal(err)
	}
	for _, e := range edits {
		e(tpl)
	}
	return tpl
}

// The table: each case edits one of the small stacks in testdata/ and says
// whether the listener's path stays open and which problems the analysis
// must report. Every reported problem must be expected by one of the
// substrings, and every substring must match a problem, so a case fails both
// when the analysis misses a mistake and when it reports one that is not
// there.
func TestAnalysis(t *testing.T) {
	apiTasks := "security group " + apiGroup + " (service ApiServiceD5B4A50A's tasks)"
	instances := "security group " + instanceGroup + " (service ApiServiceD5B4A50A's instances in AsgASG8FBA5099)"
	tests := []struct {
		name     string
		base     string
		edits    []edit
		open     bool
		problems []string
	}{
		// Stacks that are right. TestRuleForms covers the ways to write
		// the target rule.
		{name: "FargateStackWithEveryHopDeclaredIsOpenAndClean", base: "fargate.json", open: true},
		{name: "BridgeStackOnDynamicHostPortsIsOpenAndClean", base: "bridge.json", open: true},
		{name: "ProtocolNumberAndPortsAsStringsAreRecognized", base: "fargate.json", open: true, edits: []edit{
			set("ApiFromLb", "IpProtocol", `"6"`), set("ApiFromLb", "FromPort", `"8443"`), set("ApiFromLb", "ToPort", `"8443"`),
		}},
		{name: "LoadBalancerEgressWrittenInlineIsRecognized", base: "fargate.json", open: true, edits: []edit{
			remove("LbToApi"),
			appendTo(lbGroup, "SecurityGroupEgress", `{"DestinationSecurityGroupId": {"Ref": "`+apiGroup+`"}, "IpProtocol": "tcp", "FromPort": 8443, "ToPort": 8443}`),
		}},
		{name: "AnyIPv6OnInternetFacingListenerPortIsAClient", base: "fargate.json", open: true, edits: []edit{
			appendTo(lbGroup, "SecurityGroupIngress", `{"CidrIpv6": "::/0", "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443}`),
		}},
		{name: "EC2LaunchTypeFindsInstancesThroughClusterInUserData", base: "bridge.json", open: true, edits: []edit{
			set("ApiServiceD5B4A50A", "CapacityProviderStrategy", "null"),
			set("ApiServiceD5B4A50A", "LaunchType", `"EC2"`),
			remove("Cluster3D72770B", "CapacityProvider431BD7BE"),
		}},
		{name: "HealthCheckPortWithItsOwnRulesIsOpen", base: "fargate.json", open: true, edits: []edit{
			set("ApiTargetGroup54BFE075", "HealthCheckPort", `"8080"`),
			add("ApiHealthFromLb", cfn.TypeIngress, `{"GroupId": {"Ref": "`+apiGroup+`"}, "SourceSecurityGroupId": {"Ref": "`+lbGroup+`"}, "IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080}`),
			add("LbHealthToApi", cfn.TypeEgress, `{"GroupId": {"Ref": "`+lbGroup+`"}, "DestinationSecurityGroupId": {"Ref": "`+apiGroup+`"}, "IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080}`),
		}},
		{name: "LoadBalancerWithoutSecurityGroupIsReachedByCIDRCoveringItsSubnets", base: "fargate.json", open: true, edits: []edit{
			set("NlbB9F3A217", "SecurityGroups", "null"),
			remove(lbGroup, "LbToApi"),
			set("ApiFromLb", "SourceSecurityGroupId", "null"),
			set("ApiFromLb", "CidrIp", `"10.0.0.0/23"`),
		}, problems: []string{"load balancer NlbB9F3A217 has no security group"}},

		{name: "TargetsPreservingClientIPMayAdmitClientsInsteadOfTheLoadBalancer", base: "fargate.json", open: true, edits: []edit{
			set("NlbB9F3A217", "SecurityGroups", "null"),
			remove(lbGroup, "LbToApi"),
			set("ApiFromLb", "SourceSecurityGroupId", "null"),
			set("ApiFromLb", "CidrIp", `"203.0.113.0/24"`),
			set("ApiTargetGroup54BFE075", "TargetGroupAttributes", `[{"Key": "preserve_client_ip.enabled", "Value": "true"}]`),
		}, problems: []string{"load balancer NlbB9F3A217 has no security group"}},

		// Closed paths.
		{name: "MissingTargetIngressClosesPath", base: "fargate.json", edits: []edit{remove("ApiFromLb")}, problems: []string{
			"targets: " + apiTasks + " admits no tcp from the load balancer's security group " + lbGroup + ", needs tcp 8443 (traffic)",
		}},
		{name: "TargetIngressOnWrongPortClosesPathAndIsUnexplained", base: "fargate.json", edits: []edit{
			set("ApiFromLb", "FromPort", "8080"), set("ApiFromLb", "ToPort", "8080"),
		}, problems: []string{
			"targets: " + apiTasks + " admits tcp 8080 from the load balancer's security group " + lbGroup + ", needs tcp 8443 (traffic)",
			"unexplained ingress of " + apiGroup + ": tcp 8080 from sg " + lbGroup + " (ApiFromLb): tcp 8080 not needed: only tcp 8443 is needed, by listener " + listenerID,
		}},
		{name: "BridgeTargetIngressOnContainerPortClosesPath", base: "bridge.json", edits: []edit{
			set("InstancesFromLb", "FromPort", "8443"), set("InstancesFromLb", "ToPort", "8443"),
		}, problems: []string{
			"targets: " + instances + " admits tcp 8443 from the load balancer's security group " + lbGroup + ", needs tcp 32768-60999 (traffic)",
			"unexplained ingress of " + instanceGroup + ": tcp 8443 from sg " + lbGroup + " (InstancesFromLb): tcp 8443 not needed: only tcp 32768-60999 is needed, by listener " + listenerID,
		}},
		{name: "DynamicPortRangeFromUserDataMustBeAdmitted", base: "bridge.json", edits: []edit{
			set("LaunchTemplateD946544B", "LaunchTemplateData", `{"SecurityGroupIds": [{"Ref": "`+instanceGroup+`"}], "UserData": {"Fn::Base64": "#!/bin/bash\necho ECS_DYNAMIC_HOST_PORT_RANGE=49153-65535 >> /etc/ecs/ecs.config\n"}}`),
		}, problems: []string{
			"egress: load balancer security group " + lbGroup + " allows tcp 32768-60999 to " + instances + ", needs tcp 49153-65535 (traffic)",
			"targets: " + instances + " admits tcp 32768-60999 from the load balancer's security group " + lbGroup + ", needs tcp 49153-65535 (traffic)",
			"unexplained ingress of " + instanceGroup + ": tcp 32768-60999 from sg " + lbGroup + " (InstancesFromLb): tcp 32768-49152 not needed",
			"unexplained egress of " + lbGroup + ": tcp 32768-60999 to sg " + instanceGroup + " (LbToInstances): tcp 32768-49152 not needed",
		}},
		{name: "HealthCheckPortWithoutRulesClosesPath", base: "fargate.json", edits: []edit{
			set("ApiTargetGroup54BFE075", "HealthCheckPort", `"8080"`),
		}, problems: []string{
			"egress: load balancer security group " + lbGroup + " allows tcp 8443 to " + apiTasks + ", needs tcp 8080 (health checks)",
			"targets: " + apiTasks + " admits tcp 8443 from the load balancer's security group " + lbGroup + ", needs tcp 8080 (health checks)",
		}},
		{name: "MissingLoadBalancerEgressClosesPath", base: "fargate.json", edits: []edit{remove("LbToApi")}, problems: []string{
			"egress: load balancer security group " + lbGroup + " allows no tcp to " + apiTasks + ", needs tcp 8443 (traffic)",
		}},
		{name: "LoadBalancerEgressToAnotherGroupClosesPathAndIsUnexplained", base: "fargate.json", edits: []edit{
			set("LbToApi", "DestinationSecurityGroupId", `"sg-0aaaaaaaaaaaaaaaa"`),
		}, problems: []string{
			"egress: load balancer security group " + lbGroup + " allows no tcp to " + apiTasks,
			"unexplained egress of " + lbGroup + ": tcp 8443 to sg sg-0aaaaaaaaaaaaaaaa (LbToApi): allows sg sg-0aaaaaaaaaaaaaaaa, where listener",
		}},
		{name: "MissingClientIngressClosesPath", base: "fargate.json", edits: []edit{set(lbGroup, "SecurityGroupIngress", "null")}, problems: []string{
			"clients: load balancer security group " + lbGroup + " admits no client on tcp 443",
		}},
		{name: "CIDRCoveringOneOfTwoLoadBalancerSubnetsClosesPath", base: "fargate.json", edits: []edit{
			set("NlbB9F3A217", "SecurityGroups", "null"),
			remove(lbGroup, "LbToApi"),
			set("ApiFromLb", "SourceSecurityGroupId", "null"),
			set("ApiFromLb", "CidrIp", `"10.0.0.0/24"`),
		}, problems: []string{
			"load balancer NlbB9F3A217 has no security group",
			"targets: " + apiTasks + " admits no tcp from the load balancer, needs tcp 8443 (traffic)",
			"unexplained ingress of " + apiGroup + ": tcp 8443 from 10.0.0.0/24 (ApiFromLb): admits 10.0.0.0/24, which is not load balancer NlbB9F3A217",
		}},
		{name: "CIDRCoveringHalfOfLoadBalancerSubnetClosesPath", base: "fargate.json", edits: []edit{
			set("NlbB9F3A217", "SecurityGroups", "null"),
			set("NlbB9F3A217", "Subnets", `[{"Ref": "VpcPublic1"}]`),
			remove(lbGroup, "LbToApi"),
			set("ApiFromLb", "SourceSecurityGroupId", "null"),
			set("ApiFromLb", "CidrIp", `"10.0.0.0/25"`),
		}, problems: []string{
			"load balancer NlbB9F3A217 has no security group",
			"targets: " + apiTasks + " admits no tcp from the load balancer, needs tcp 8443 (traffic)",
			"unexplained ingress of " + apiGroup + ": tcp 8443 from 10.0.0.0/25 (ApiFromLb): admits 10.0.0.0/25, which is not load balancer NlbB9F3A217",
		}},
		{name: "TargetGroupTypeNotMatchingNetworkModeIsWiringFailure", base: "fargate.json", edits: []edit{
			set("ApiTargetGroup54BFE075", "TargetType", `"instance"`),
		}, problems: []string{
			"wiring: target group ApiTargetGroup54BFE075 has target type instance, but the awsvpc tasks of service ApiServiceD5B4A50A register as ip targets",
		}},
		{name: "ListenerWithoutServiceReachesNothing", base: "fargate.json", edits: []edit{remove("ApiServiceD5B4A50A")}, problems: []string{
			"wiring: no ECS service registers targets in target group ApiTargetGroup54BFE075",
			"unexplained ingress of " + apiGroup + ": tcp 8443 from sg " + lbGroup + " (ApiFromLb): no listener path or VPC endpoint needs ingress to security group " + apiGroup,
			"unexplained egress of " + lbGroup + ": tcp 8443 to sg " + apiGroup + " (LbToApi): no listener path or VPC endpoint needs egress from security group " + lbGroup,
		}},
		{name: "ServiceInTargetGroupWithoutListenerIsUnreached", base: "fargate.json", open: true, edits: []edit{
			add("OtherTargetGroup", cfn.TypeTargetGroup, `{"Port": 8443, "Protocol": "TCP", "TargetType": "ip"}`),
			appendTo("ApiServiceD5B4A50A", "LoadBalancers", `{"ContainerName": "app", "ContainerPort": 8443, "TargetGroupArn": {"Ref": "OtherTargetGroup"}}`),
		}, problems: []string{
			"service ApiServiceD5B4A50A registers container app:8443 in target group OtherTargetGroup, which no listener forwards to",
		}},
		{name: "CapacityProviderOutsideTemplateIsWiringFailure", base: "bridge.json", edits: []edit{
			set("ApiServiceD5B4A50A", "CapacityProviderStrategy", `[{"CapacityProvider": "shared-provider"}]`),
		}, problems: []string{
			"wiring: capacity provider shared-provider of service ApiServiceD5B4A50A is not in the template",
			"unexplained ingress of " + instanceGroup,
			"unexplained egress of " + lbGroup,
		}},
		{name: "NonLiteralPortCannotBeEvaluated", base: "fargate.json", edits: []edit{set("ApiFromLb", "FromPort", `{"Ref": "Port"}`)}, problems: []string{
			"cannot evaluate: ApiFromLb: FromPort Ref(Port) is not a literal number",
			"targets: " + apiTasks + " admits no tcp",
		}},

		// Open paths with grants beyond what they need.
		{name: "ExtraOpenPortOnLoadBalancerIsUnexplained", base: "fargate.json", open: true, edits: []edit{
			appendTo(lbGroup, "SecurityGroupIngress", `{"CidrIp": "0.0.0.0/0", "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22}`),
		}, problems: []string{
			"unexplained ingress of " + lbGroup + ": tcp 22 from 0.0.0.0/0 (" + lbGroup + ".SecurityGroupIngress[1]): tcp 22 not needed: only tcp 443 is needed, by listener " + listenerID,
		}},
		{name: "ExtraClientCIDROnPortWithoutListenerIsUnexplained", base: "fargate.json", open: true, edits: []edit{
			add("PartnerClients", cfn.TypeIngress, `{"GroupId": {"Fn::GetAtt": ["`+lbGroup+`", "GroupId"]}, "CidrIp": "203.0.113.0/24", "IpProtocol": "tcp", "FromPort": 8443, "ToPort": 8443}`),
		}, problems: []string{
			"unexplained ingress of " + lbGroup + ": tcp 8443 from 203.0.113.0/24 (PartnerClients): tcp 8443 not needed",
		}},
		{name: "ExtraPortRangeOnTargetsIsUnexplained", base: "fargate.json", open: true, edits: []edit{set("ApiFromLb", "ToPort", "8444")}, problems: []string{
			"unexplained ingress of " + apiGroup + ": tcp 8443-8444 from sg " + lbGroup + " (ApiFromLb): tcp 8444 not needed: only tcp 8443 is needed, by listener " + listenerID,
		}},
		{name: "ExtraCIDROnTargetsIsUnexplained", base: "fargate.json", open: true, edits: []edit{
			add("ApiFromVpc", cfn.TypeIngress, `{"GroupId": {"Ref": "`+apiGroup+`"}, "CidrIp": {"Fn::GetAtt": ["Vpc8378EB38", "CidrBlock"]}, "IpProtocol": "tcp", "FromPort": 8443, "ToPort": 8443}`),
		}, problems: []string{
			"unexplained ingress of " + apiGroup + ": tcp 8443 from 10.0.0.0/16 (ApiFromVpc): admits 10.0.0.0/16, where listener " + listenerID + " (TCP 443) -> target group ApiTargetGroup54BFE075 -> service ApiServiceD5B4A50A needs only the load balancer's security group " + lbGroup,
		}},
		{name: "AnyIPv4OnTargetsInlineIsUnexplained", base: "fargate.json", open: true, edits: []edit{
			appendTo(apiGroup, "SecurityGroupIngress", `{"CidrIp": "0.0.0.0/0", "IpProtocol": "tcp", "FromPort": 8443, "ToPort": 8443}`),
		}, problems: []string{
			"unexplained ingress of " + apiGroup + ": tcp 8443 from 0.0.0.0/0 (" + apiGroup + ".SecurityGroupIngress[0]): admits 0.0.0.0/0",
		}},
		{name: "AnyIPv6OnTargetsAsSeparateResourceIsUnexplained", base: "fargate.json", open: true, edits: []edit{
			add("ApiFromAnyIPv6", cfn.TypeIngress, `{"GroupId": {"Ref": "`+apiGroup+`"}, "CidrIpv6": "::/0", "IpProtocol": "tcp", "FromPort": 8443, "ToPort": 8443}`),
		}, problems: []string{
			"unexplained ingress of " + apiGroup + ": tcp 8443 from ::/0 (ApiFromAnyIPv6): admits ::/0",
		}},
		{name: "AnyAddressOnInternalLoadBalancerIsUnexplained", base: "fargate.json", open: true, edits: []edit{
			set("NlbB9F3A217", "Scheme", `"internal"`),
			appendTo(lbGroup, "SecurityGroupIngress", `{"CidrIpv6": "::/0", "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443}`),
		}, problems: []string{
			"unexplained ingress of " + lbGroup + ": tcp 443 from 0.0.0.0/0 (" + lbGroup + ".SecurityGroupIngress[0]): admits any address (0.0.0.0/0) to internal load balancer NlbB9F3A217",
			"unexplained ingress of " + lbGroup + ": tcp 443 from ::/0 (" + lbGroup + ".SecurityGroupIngress[1]): admits any address (::/0) to internal load balancer NlbB9F3A217",
		}},
		{name: "AllTrafficRuleOnTargetsIsUnexplained", base: "fargate.json", open: true, edits: []edit{set("ApiFromLb", "IpProtocol", `"-1"`)}, problems: []string{
			"unexplained ingress of " + apiGroup + ": all traffic from sg " + lbGroup + " (ApiFromLb): allows all traffic: only tcp 8443 is needed, by listener " + listenerID,
		}},

		// Interface VPC endpoints admit their VPC on HTTPS; PrivateLink
		// consumers of an endpoint service may bypass the load balancer's
		// security group.
		{name: "InterfaceEndpointAdmittingItsVPCOnHTTPSIsExplained", base: "fargate.json", open: true, edits: append(endpoint(`{"CidrIp": {"Fn::GetAtt": ["Vpc8378EB38", "CidrBlock"]}, "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443}`),
			appendTo("EcrSecurityGroup", "SecurityGroupIngress", `{"SourceSecurityGroupId": {"Ref": "`+apiGroup+`"}, "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443}`),
			appendTo("EcrSecurityGroup", "SecurityGroupIngress", `{"CidrIp": "10.0.4.0/22", "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443}`))},
		{name: "InterfaceEndpointOpenToAnyAddressIsUnexplained", base: "fargate.json", open: true, edits: endpoint(`{"CidrIp": "0.0.0.0/0", "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443}`), problems: []string{
			"unexplained ingress of EcrSecurityGroup: tcp 443 from 0.0.0.0/0 (EcrSecurityGroup.SecurityGroupIngress[0]): admits 0.0.0.0/0, but VPC endpoint EcrEndpoint serves only its own VPC",
		}},
		{name: "InterfaceEndpointOnOtherPortIsUnexplained", base: "fargate.json", open: true, edits: endpoint(`{"CidrIp": "10.0.0.0/16", "IpProtocol": "tcp", "FromPort": 443, "ToPort": 8443}`), problems: []string{
			"unexplained ingress of EcrSecurityGroup: tcp 443-8443 from 10.0.0.0/16 (EcrSecurityGroup.SecurityGroupIngress[0]): tcp 444-8443 not needed: only tcp 443 is needed, by VPC endpoint EcrEndpoint",
		}},
		{name: "GatewayEndpointExplainsNoIngress", base: "fargate.json", open: true, edits: append(endpoint(`{"CidrIp": "10.0.0.0/16", "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443}`),
			set("EcrEndpoint", "VpcEndpointType", `"Gateway"`)), problems: []string{
			"unexplained ingress of EcrSecurityGroup: tcp 443 from 10.0.0.0/16 (EcrSecurityGroup.SecurityGroupIngress[0]): no listener path or VPC endpoint needs ingress to security group EcrSecurityGroup",
		}},
		{name: "UnfilteredPrivateLinkConsumersReachListenerWithoutClientRule", base: "fargate.json", open: true, edits: []edit{
			set(lbGroup, "SecurityGroupIngress", "null"),
			set("NlbB9F3A217", "EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic", `"off"`),
			add("EndpointService", cfn.TypeEndpointService, `{"NetworkLoadBalancerArns": [{"Ref": "NlbB9F3A217"}], "AcceptanceRequired": true}`),
		}},
		{name: "FilteredPrivateLinkConsumersNeedClientRule", base: "fargate.json", edits: []edit{
			set(lbGroup, "SecurityGroupIngress", "null"),
			add("EndpointService", cfn.TypeEndpointService, `{"NetworkLoadBalancerArns": [{"Ref": "NlbB9F3A217"}], "AcceptanceRequired": true}`),
		}, problems: []string{
			"clients: load balancer security group " + lbGroup + " admits no client on tcp 443",
		}},

		// EC2's implicit allow-all egress.
		{name: "LoadBalancerGroupWithoutInlineEgressAllowsAllEgress", base: "fargate.json", open: true, edits: []edit{set(lbGroup, "SecurityGroupEgress", "null")}, problems: []string{
			"security group " + lbGroup + " has no inline egress rule, so EC2 gives it the default allow-all egress",
		}},
		{name: "EmptyInlineEgressListAllowsAllEgress", base: "fargate.json", open: true, edits: []edit{set(lbGroup, "SecurityGroupEgress", "[]")}, problems: []string{
			"security group " + lbGroup + " has no inline egress rule",
		}},
		{name: "TaskGroupWithoutInlineEgressAllowsAllEgress", base: "fargate.json", open: true, edits: []edit{set(apiGroup, "SecurityGroupEgress", "null")}, problems: []string{
			"security group " + apiGroup + " has no inline egress rule",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Analyze(load(t, tc.base, tc.edits...))
			if err != nil {
				t.Fatal(err)
			}
			paths := r.PathsOf(listenerID)
			if len(paths) != 1 {
				t.Fatalf("listener %s has %d paths, want 1: %v", listenerID, len(paths), paths)
			}
			if got := paths[0].Open(); got != tc.open {
				t.Errorf("path open = %v, want %v; failures: %v", got, tc.open, paths[0].Failures)
			}
			problems := r.Problems()
			for _, p := range problems {
				t.Log(p)
			}
			for _, want := range tc.problems {
				if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, want) }) {
					t.Errorf("no problem contains %q", want)
				}
			}
			for _, p := range problems {
				if !slices.ContainsFunc(tc.problems, func(want string) bool { return strings.Contains(p, want) }) {
					t.Errorf("unexpected problem: %s", p)
				}
			}
		})
	}
}

// A target rule is read the same whichever way CloudFormation lets it be
// written: inline or as a separate resource, with Fn::GetAtt (list or string
// form) or Ref, or on a group defined outside the template (an sg- ID, an
// import, a parameter). For each form, the right rule opens the path, a rule
// on the wrong port closes it and is unexplained, and a rule from 0.0.0.0/0
// opens it but is unexplained.
func TestRuleForms(t *testing.T) {
	getAtt := func(id string) string { return `{"Fn::GetAtt": ["` + id + `", "GroupId"]}` }
	ref := func(id string) string { return `{"Ref": "` + id + `"}` }
	inline := func(source func(string) string) func(string) []edit {
		return func(rule string) []edit {
			rule = strings.ReplaceAll(rule, "$LB", source(lbGroup))
			return []edit{remove("ApiFromLb"), appendTo(apiGroup, "SecurityGroupIngress", "{"+rule+"}")}
		}
	}
	resource := func(group string, source func(string) string) func(string) []edit {
		return func(rule string) []edit {
			rule = strings.ReplaceAll(rule, "$LB", source(lbGroup))
			edits := []edit{remove("ApiFromLb"), add("ApiFromLb", cfn.TypeIngress, `{"GroupId": `+group+`, `+rule+`}`)}
			if !strings.Contains(group, apiGroup) {
				// The tasks use a group defined outside the template.
				edits = append(edits,
					set("ApiServiceD5B4A50A", "NetworkConfiguration", `{"AwsvpcConfiguration": {"SecurityGroups": [`+group+`], "Subnets": [{"Ref": "VpcPrivate1"}]}}`),
					set("LbToApi", "DestinationSecurityGroupId", group),
					remove(apiGroup))
			}
			return edits
		}
	}
	forms := []struct {
		name  string
		group string // the target group's ID in the report
		write func(rule string) []edit
	}{
		{"InlineWithGetAtt", apiGroup, inline(getAtt)},
		{"InlineWithRef", apiGroup, inline(ref)},
		{"ResourceWithGetAtt", apiGroup, resource(getAtt(apiGroup), getAtt)},
		{"ResourceWithGetAttStringForm", apiGroup, resource(`{"Fn::GetAtt": "`+apiGroup+`.GroupId"}`, getAtt)},
		{"ResourceWithRef", apiGroup, resource(ref(apiGroup), ref)},
		{"ResourceOnImportedGroupID", "sg-0123456789abcdef0", resource(`"sg-0123456789abcdef0"`, getAtt)},
		{"ResourceOnImportValue", `ImportValue(shared-api-sg)`, resource(`{"Fn::ImportValue": "shared-api-sg"}`, getAtt)},
		{"ResourceOnParameter", "Ref(ApiSecurityGroupId)", resource(`{"Ref": "ApiSecurityGroupId"}`, ref)},
	}
	variants := []struct {
		name     string
		rule     string
		open     bool
		problems []string // with $G for the target group
	}{
		{"AdmitsLoadBalancerOnContainerPort", `"SourceSecurityGroupId": $LB, "IpProtocol": "tcp", "FromPort": 8443, "ToPort": 8443`, true, nil},
		{"WrongPortClosesPath", `"SourceSecurityGroupId": $LB, "IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080`, false, []string{
			"targets: security group $G (service ApiServiceD5B4A50A's tasks) admits tcp 8080 from the load balancer's security group " + lbGroup + ", needs tcp 8443 (traffic)",
			"unexplained ingress of $G: tcp 8080 from sg " + lbGroup,
		}},
		{"AnyIPv4IsUnexplained", `"CidrIp": "0.0.0.0/0", "IpProtocol": "tcp", "FromPort": 8443, "ToPort": 8443`, true, []string{
			"unexplained ingress of $G: tcp 8443 from 0.0.0.0/0",
		}},
	}
	for _, form := range forms {
		for _, v := range variants {
			t.Run(form.name+"/"+v.name, func(t *testing.T) {
				r, err := Analyze(load(t, "fargate.json", form.write(v.rule)...))
				if err != nil {
					t.Fatal(err)
				}
				paths := r.PathsOf(listenerID)
				if len(paths) != 1 || paths[0].Open() != v.open {
					t.Fatalf("paths %v, want one with open = %v", paths, v.open)
				}
				if v.open && (len(paths[0].Ingress) != 1 || paths[0].Ingress[0].Group != form.group) {
					t.Errorf("path admitted by %v, want the one rule of %s", paths[0].Ingress, form.group)
				}
				problems := r.Problems()
				for _, p := range problems {
					t.Log(p)
				}
				var want []string
				for _, w := range v.problems {
					want = append(want, strings.ReplaceAll(w, "$G", form.group))
				}
				for _, w := range want {
					if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, w) }) {
						t.Errorf("no problem contains %q; problems: %q", w, problems)
					}
				}
				if len(problems) != len(want) {
					t.Errorf("problems %q, want %d", problems, len(want))
				}
			})
		}
	}
}

// The implicit allow-all egress of a group without inline egress is a grant
// like any other: it opens the load balancer's way to its targets, which is
// why it is a problem and not only a style issue.
func TestImplicitEgressIsAGrantThatOpensThePath(t *testing.T) {
	r, err := Analyze(load(t, "fargate.json", remove("LbToApi"), set(lbGroup, "SecurityGroupEgress", "null")))
	if err != nil {
		t.Fatal(err)
	}
	p := r.PathsOf(listenerID)[0]
	if !p.Open() || len(p.Egress) != 1 || !p.Egress[0].Implicit {
		t.Fatalf("path open %v through egress %v, want open through the implicit rule", p.Open(), p.Egress)
	}
	if !r.SecurityGroup(lbGroup).DefaultEgress {
		t.Errorf("%s: DefaultEgress false", lbGroup)
	}
}

// Each rule of the minimal stack serves the one listener, and a Fargate
// path needs the container port while a bridge path needs the dynamic range.
func TestRulesServeTheirListener(t *testing.T) {
	for base, ports := range map[string]PortRange{"fargate.json": {8443, 8443}, "bridge.json": {32768, 60999}} {
		r, err := Analyze(load(t, base))
		if err != nil {
			t.Fatal(err)
		}
		if got := r.PathsOf(listenerID)[0].TargetPorts; got != ports {
			t.Errorf("%s: target ports %v, want %v", base, got, ports)
		}
		rules := append(slices.Clone(r.Ingress), r.Egress...)
		for _, rule := range rules {
			if rule.Group == lbGroup || rule.Direction == Ingress {
				if !slices.Equal(rule.Serves, []string{listenerID}) || rule.Unexplained != "" {
					t.Errorf("%s: %s serves %v (%s), want %s", base, rule, rule.Serves, rule.Unexplained, listenerID)
				}
			}
		}
	}
}

func TestAnalyzeRejectsWhatIsNotATemplate(t *testing.T) {
	for name, tpl := range map[string]map[string]any{
		"NoResources":       {"Description": "x"},
		"ResourceNotObject": {"Resources": map[string]any{"A": "x"}},
		"ResourceNoType":    {"Resources": map[string]any{"A": map[string]any{}}},
	} {
		if _, err := Analyze(tpl); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := AnalyzeJSON([]byte("{")); err == nil {
		t.Error("invalid JSON: no error")
	}
}

// A service's name in the analysis is its construct's: the logical ID
// without aws-cdk-lib's hash and without a trailing "Service".
func TestServiceNameIsTheConstructName(t *testing.T) {
	if got := serviceName("ApiServiceD5B4A50A"); got != "Api" {
		t.Errorf("serviceName = %q, want Api", got)
	}
}

// goldenTemplates are the committed templates of the example stacks.
func goldenTemplates(t *testing.T) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "test", "testdata", "*.template.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden templates in test/testdata")
	}
	out := map[string][]byte{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".template.json")] = data
	}
	return out
}

// Every example stack, as committed, has no problem, and every listener in
// it reaches an ECS service through an open path: the analysis works on the
// real synthesized output, not only on hand-written templates.
func TestGoldenTemplatesEveryListenerReachesItsServiceAndNothingElseIsOpen(t *testing.T) {
	golden := goldenTemplates(t)
	for _, stack := range slices.Sorted(maps.Keys(golden)) {
		t.Run(stack, func(t *testing.T) {
			r, err := AnalyzeJSON(golden[stack])
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range r.Problems() {
				t.Errorf("problem: %s", p)
			}
			if len(r.Listeners) == 0 {
				t.Fatal("no listener found")
			}
			for _, l := range r.Listeners {
				paths := r.PathsOf(l.ID)
				if len(paths) == 0 {
					t.Errorf("listener %s has no path", l.ID)
				}
				for _, p := range paths {
					if p.Service == nil || !p.Open() {
						t.Errorf("%s is not open: %v", p, p.Failures)
					}
					if len(p.Clients) == 0 || len(p.Egress) == 0 || len(p.Ingress) == 0 {
						t.Errorf("%s: clients %v, egress %v, ingress %v: want a rule for each hop", p, p.Clients, p.Egress, p.Ingress)
					}
				}
			}
			if len(r.Ingress) == 0 {
				t.Fatal("no ingress rule found")
			}
			for _, rule := range r.Ingress {
				if len(rule.Serves) == 0 {
					t.Errorf("%s serves no listener", rule)
				}
			}
			reached := map[string]bool{}
			for _, p := range r.Paths {
				if p.Service != nil && p.Open() {
					reached[p.Service.ID] = true
				}
				t.Logf("%s: open %v, targets accept %v", p, p.Open(), p.Needs)
			}
			for _, s := range r.Services {
				if !reached[s.ID] {
					t.Errorf("service %s is reached by no open path", s.ID)
				}
			}
		})
	}
}
