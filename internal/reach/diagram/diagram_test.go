package diagram

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/passthrough-cdk/passthrough/internal/golden" // accepts the -update of `go test ./... -update`
)

// fargate is package reach's hand-written Fargate stack: one listener, one
// service, every hop open.
func fargate(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "fargate.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tpl map[string]any
	if err := json.Unmarshal(data, &tpl); err != nil {
		t.Fatal(err)
	}
	return tpl
}

// The diagram has the labels the brief promises, derived from logical IDs,
// and comes out the same every time.
func TestDiagramLabels(t *testing.T) {
	tpl := fargate(t)
	doc, err := Document("Minimal", tpl)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"# Traffic paths of Minimal\n",
		"```mermaid\nflowchart LR\n",
		`client1(["0.0.0.0/0"])`,
		`"NLB listener TCP 443"`,
		`"target group Api (ip, TCP 8443)"`,
		`"ECS service Api (Fargate, awsvpc)<br/>container app:8443"`,
		`client1 -->|"sg LbSecurityGroup: 443 from 0.0.0.0/0"| listener_ApiListener304FEC63`,
		`listener_ApiListener304FEC63 -->|"sg LbSecurityGroup: 8443 to sg ApiSecurityGroup"| tg_ApiTargetGroup54BFE075`,
		`tg_ApiTargetGroup54BFE075 -->|"sg ApiSecurityGroup: 8443 from NLB sg"| svc_ApiServiceD5B4A50A`,
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("document lacks %q:\n%s", want, doc)
		}
	}
	if strings.Contains(doc, "## Problems") || strings.Contains(doc, "-.->") {
		t.Errorf("clean stack drawn with problems:\n%s", doc)
	}
	for range 20 {
		again, _ := Document("Minimal", tpl)
		if again != doc {
			t.Fatalf("second rendering differs:\n%s\n---\n%s", doc, again)
		}
	}
}

// A closed hop is drawn dotted with the reason, and the page lists the
// problems.
func TestDiagramShowsBlockedHop(t *testing.T) {
	tpl := fargate(t)
	delete(tpl["Resources"].(map[string]any), "ApiFromLb")
	doc, err := Document("Broken", tpl)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`tg_ApiTargetGroup54BFE075 -.->|"blocked: security group ApiSecurityGroup2D7B9747`,
		"| **no** |",
		"## Problems\n\n- listener ApiListener304FEC63",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("document lacks %q:\n%s", want, doc)
		}
	}
}

// Consumers of an endpoint service that the load balancer's security group
// does not filter are clients of their own.
func TestDiagramShowsPrivateLinkConsumers(t *testing.T) {
	tpl := fargate(t)
	resources := tpl["Resources"].(map[string]any)
	resources["NlbB9F3A217"].(map[string]any)["Properties"].(map[string]any)["EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic"] = "off"
	resources["EndpointService"] = map[string]any{"Type": "AWS::EC2::VPCEndpointService", "Properties": map[string]any{
		"NetworkLoadBalancerArns": []any{map[string]any{"Ref": "NlbB9F3A217"}},
	}}
	doc, err := Document("PrivateLink", tpl)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`client2(["PrivateLink consumers"])`,
		`client2 -->|"endpoint service EndpointService: NLB sg not enforced"| listener_ApiListener304FEC63`,
		`client1 -->|"sg LbSecurityGroup: 443 from 0.0.0.0/0"| listener_ApiListener304FEC63`,
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("document lacks %q:\n%s", want, doc)
		}
	}
}
