package passthroughtest_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough/passthroughtest"
	_ "github.com/passthrough-cdk/passthrough/internal/golden" // accepts the -update of `go test ./... -update`
)

// load returns testdata/fargate.json decoded, for a case to break.
func load(t *testing.T) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "fargate.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tpl map[string]any
	if err := json.Unmarshal(raw, &tpl); err != nil {
		t.Fatal(err)
	}
	return tpl
}

func resource(tpl map[string]any, id string) map[string]any {
	return tpl["Resources"].(map[string]any)[id].(map[string]any)
}

func props(tpl map[string]any, id string) map[string]any {
	return resource(tpl, id)["Properties"].(map[string]any)
}

func problemsOf(t *testing.T, tpl map[string]any) []string {
	t.Helper()
	raw, err := json.Marshal(tpl)
	if err != nil {
		t.Fatal(err)
	}
	problems, err := passthroughtest.Problems(raw)
	if err != nil {
		t.Fatal(err)
	}
	return problems
}

// A load balancer with one TCP listener whose path to its service is open,
// and nothing else open, has no problem.
func TestPassthroughStackHasNoProblem(t *testing.T) {
	if problems := problemsOf(t, load(t)); len(problems) != 0 {
		t.Errorf("problems: %q", problems)
	}
}

// Every example stack of the repository, as its golden template holds it,
// passes: the checks accept what the constructs synthesize, from Fargate and
// EC2 services to PrivateLink and VPC endpoints.
func TestExampleTemplatesHaveNoProblem(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "..", "test", "testdata", "*.template.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no example template found (%v)", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			problems, err := passthroughtest.Problems(raw)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range problems {
				t.Error(p)
			}
		})
	}
}

// Each break of a guarantee is reported, with the resource it concerns.
func TestBrokenGuaranteesAreReported(t *testing.T) {
	cases := []struct {
		name    string
		breakIt func(tpl map[string]any)
		// want is a problem reported word for word; contains, words that
		// one problem holds (the wording of the reachability analysis is
		// its own).
		want     string
		contains []string
	}{
		{
			name:    "TLS listener",
			breakIt: func(tpl map[string]any) { props(tpl, "ApiListener")["Protocol"] = "TLS" },
			want:    "listener ApiListener has protocol TLS: only a TCP listener passes TLS through to the container",
		},
		{
			name: "certificate on the listener",
			breakIt: func(tpl map[string]any) {
				props(tpl, "ApiListener")["Certificates"] = []any{map[string]any{"CertificateArn": "arn:aws:acm:eu-west-1:111122223333:certificate/x"}}
			},
			want: "listener ApiListener sets Certificates: the load balancer must not take part in TLS",
		},
		{
			name: "TLS policy on the listener",
			breakIt: func(tpl map[string]any) {
				props(tpl, "ApiListener")["SslPolicy"] = "ELBSecurityPolicy-TLS13-1-2-2021-06"
			},
			want: "listener ApiListener sets SslPolicy: the load balancer must not take part in TLS",
		},
		{
			name: "listener certificate resource",
			breakIt: func(tpl map[string]any) {
				tpl["Resources"].(map[string]any)["ExtraCertificate"] = map[string]any{
					"Type":       "AWS::ElasticLoadBalancingV2::ListenerCertificate",
					"Properties": map[string]any{"ListenerArn": map[string]any{"Ref": "ApiListener"}},
				}
			},
			want: "ExtraCertificate is a listener certificate: the load balancer must not hold a certificate",
		},
		{
			name:    "no listener",
			breakIt: func(tpl map[string]any) { delete(tpl["Resources"].(map[string]any), "ApiListener") },
			want:    "no load balancer listener: nothing in this template passes TLS through",
		},
		{
			name:     "targets do not admit the load balancer",
			breakIt:  func(tpl map[string]any) { delete(tpl["Resources"].(map[string]any), "ApiFromLb") },
			contains: []string{"ApiListener", "targets"},
		},
		{
			name: "a port opened by hand",
			breakIt: func(tpl map[string]any) {
				props(tpl, "ApiGroup")["SecurityGroupIngress"] = []any{map[string]any{"CidrIp": "0.0.0.0/0", "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22}}
			},
			contains: []string{"unexplained", "ApiGroup", "22"},
		},
		{
			name:     "load balancer without a security group",
			breakIt:  func(tpl map[string]any) { delete(props(tpl, "Lb"), "SecurityGroups") },
			contains: []string{"load balancer Lb has no security group"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tpl := load(t)
			tc.breakIt(tpl)
			problems := problemsOf(t, tpl)
			if tc.want != "" && !slices.Contains(problems, tc.want) {
				t.Errorf("problems %q\ndo not include %q", problems, tc.want)
			}
			if tc.contains != nil && !slices.ContainsFunc(problems, func(p string) bool {
				for _, s := range tc.contains {
					if !strings.Contains(p, s) {
						return false
					}
				}
				return true
			}) {
				t.Errorf("no problem of %q mentions all of %q", problems, tc.contains)
			}
		})
	}
}

// Data that is not a template is an error, not a list of problems.
func TestNotATemplateIsAnError(t *testing.T) {
	for _, data := range []string{"not json", "[]"} {
		if _, err := passthroughtest.Problems([]byte(data)); err == nil {
			t.Errorf("Problems(%q): no error", data)
		}
	}
}
