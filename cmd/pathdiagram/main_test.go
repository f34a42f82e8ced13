package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// repoRoot is relative to this package's directory, where go test runs.
const repoRoot = "../.."

func goldenTemplates(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, "test", "testdata", "*.template.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden templates in test/testdata (%v)", err)
	}
	return files
}

// The diagrams committed in docs/diagrams are those of the golden templates
// as they are now: a change to the paths of an example stack must come with
// its picture.
func TestCommittedDiagramsMatchGoldenTemplates(t *testing.T) {
	diffs, err := check(filepath.Join(repoRoot, "docs", "diagrams"), goldenTemplates(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Error(d)
	}
	if len(diffs) > 0 {
		t.Errorf("regenerate the diagrams from the repository root with:\n\t%s\nand review the diff of docs/diagrams before committing it", regenerate)
	}
}

// -check fails, naming the regenerate command, for a diagram that is out of
// date, one that is missing and one whose template is gone; -write makes it
// pass again.
func TestCheckCatchesOutdatedMissingAndStaleDiagrams(t *testing.T) {
	templates := goldenTemplates(t)
	dir := t.TempDir()
	if code := run(append([]string{"-write", dir}, templates...), new(bytes.Buffer), new(bytes.Buffer)); code != 0 {
		t.Fatalf("-write exited %d", code)
	}
	var stderr bytes.Buffer
	if code := run(append([]string{"-check", dir}, templates...), new(bytes.Buffer), &stderr); code != 0 {
		t.Fatalf("-check right after -write exited %d: %s", code, &stderr)
	}

	first := filepath.Join(dir, stackName(templates[0])+".md")
	doc, _ := os.ReadFile(first)
	if err := os.WriteFile(first, bytes.Replace(doc, []byte("from NLB sg"), []byte("from 0.0.0.0/0"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Removed.md"), []byte("# old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if len(templates) > 1 {
		if err := os.Remove(filepath.Join(dir, stackName(templates[1])+".md")); err != nil {
			t.Fatal(err)
		}
	}
	stderr.Reset()
	if code := run(append([]string{"-check", dir}, templates...), new(bytes.Buffer), &stderr); code != 1 {
		t.Fatalf("-check of edited diagrams exited %d, want 1", code)
	}
	out := stderr.String()
	wants := []string{"is out of date with", "Removed.md belongs to no template", regenerate}
	if len(templates) > 1 {
		wants = append(wants, "is missing")
	}
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("-check output lacks %q:\n%s", want, out)
		}
	}
}

// The diagram has the labels the brief promises, derived from logical IDs,
// and comes out the same every time.
func TestDiagramLabels(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "internal", "reach", "testdata", "fargate.json"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := document("Minimal", data)
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
		again, _ := document("Minimal", data)
		if again != doc {
			t.Fatalf("second rendering differs:\n%s\n---\n%s", doc, again)
		}
	}
}

// A closed hop is drawn dotted with the reason, and the page lists the
// problems.
func TestDiagramShowsBlockedHop(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "internal", "reach", "testdata", "fargate.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tpl map[string]any
	if err := json.Unmarshal(data, &tpl); err != nil {
		t.Fatal(err)
	}
	delete(tpl["Resources"].(map[string]any), "ApiFromLb")
	data, _ = json.Marshal(tpl)
	doc, err := document("Broken", data)
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
	data, err := os.ReadFile(filepath.Join(repoRoot, "internal", "reach", "testdata", "fargate.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tpl map[string]any
	if err := json.Unmarshal(data, &tpl); err != nil {
		t.Fatal(err)
	}
	resources := tpl["Resources"].(map[string]any)
	resources["NlbB9F3A217"].(map[string]any)["Properties"].(map[string]any)["EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic"] = "off"
	resources["EndpointService"] = map[string]any{"Type": "AWS::EC2::VPCEndpointService", "Properties": map[string]any{
		"NetworkLoadBalancerArns": []any{map[string]any{"Ref": "NlbB9F3A217"}},
	}}
	data, _ = json.Marshal(tpl)
	doc, err := document("PrivateLink", data)
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

func TestStackName(t *testing.T) {
	for in, want := range map[string]string{
		"test/testdata/PassthroughPublicServicesEC2.template.json": "PassthroughPublicServicesEC2",
		"cdk.out/Stack.json": "Stack",
	} {
		if got := stackName(in); got != want {
			t.Errorf("stackName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{nil, {"-write", "a", "-check", "b", "x.json"}, {"-nope"}} {
		if code := run(args, new(bytes.Buffer), new(bytes.Buffer)); code != 2 {
			t.Errorf("run(%q) exited %d, want 2", args, code)
		}
	}
}
