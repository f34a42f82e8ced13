package integ

import (
	"context"
	"encoding/json"
	"net"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
)

// Every example stack is in exactly one group, deployed after the stacks it
// needs.
func TestGroupsCoverEveryExampleOnce(t *testing.T) {
	stacks, err := ReadAssembly("testdata")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, g := range Groups {
		for _, s := range g.Stacks {
			seen[s]++
		}
	}
	for _, s := range stacks {
		if seen[s.ID] != 1 {
			t.Errorf("%s is in %d groups, want 1", s.ID, seen[s.ID])
		}
	}
	if len(seen) != len(stacks) {
		t.Errorf("groups name %d stacks, the app has %d", len(seen), len(stacks))
	}
	pl, err := SelectGroups(" privatelink,PublicAndInternal")
	if err != nil || len(pl) != 2 || !reflect.DeepEqual(pl[0].Stacks, []string{"PassthroughPrivateLinkProvider", "PassthroughPrivateLinkConsumer"}) {
		t.Errorf("selected %+v, %v", pl, err)
	}
	if _, err := SelectGroups("Nope"); err == nil || !strings.HasPrefix(err.Error(), `no group "Nope"; the groups are PublicServicesFargate, `) {
		t.Errorf("unknown group: %v", err)
	}
}

// The certificate names every host a caller dials, read from the golden
// templates' *_ADDRESS variables.
func TestCertificateNamesEveryCallersHost(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "Passthrough*.template.json"))
	if len(files) == 0 {
		t.Fatal("no golden templates")
	}
	for _, f := range files {
		tpl := golden(t, strings.TrimSuffix(filepath.Base(f), ".template.json"))
		resources := tpl["Resources"].(map[string]any)
		for id, r := range resources {
			if r.(map[string]any)["Type"] != "AWS::ECS::Service" {
				continue
			}
			for name, addr := range addresses(resources, id) {
				host, _, _ := net.SplitHostPort(addr)
				if !slices.Contains(CertHosts, host) {
					t.Errorf("%s: %s=%s names a host the certificate does not", filepath.Base(f), name, addr)
				}
			}
		}
	}
}

// The example server's own -gen-cert makes the run's certificate: this runs
// it, so the code path the suite takes is the one tested.
func TestGenerateCertificateWithTheExampleServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the example server")
	}
	dir := t.TempDir()
	c, err := GenerateCertificate(context.Background(), filepath.Join("..", ".."), dir, "passthrough-integ/x/y")
	if err != nil {
		t.Fatal(err)
	}
	var secret map[string]string
	if err := json.Unmarshal([]byte(c.Secret), &secret); err != nil || secret["certificate"] == "" || secret["privateKey"] == "" || secret["clientCA"] == "" {
		t.Errorf("secret.json %v (%v): want certificate, privateKey and clientCA", secret, err)
	}
	if len(c.Fingerprint) != 64 || c.Client.Leaf == nil || c.Client.Leaf.Subject.CommonName != "passthrough-demo-client" {
		t.Errorf("certificate %q, client %v", c.Fingerprint, c.Client.Leaf)
	}
	if _, err := GenerateCertificate(context.Background(), t.TempDir(), dir, "x"); err == nil {
		t.Error("ran without the example server")
	}
}

func TestCDKCommandLines(t *testing.T) {
	run := RunID(ownRun)
	c := CDK{Root: "/repo"}
	if got, want := c.Bin(), "/repo/node_modules/.bin/cdk"; got != want {
		t.Errorf("bin %s", got)
	}
	got := c.Synth(run, "/tmp/a", nil)
	want := []string{"synth", "--quiet", "--no-notices", "--no-color", "--output", "/tmp/a", "-c", "stackNameSuffix=-" + ownRun, "--all"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("synth\n%q\nwant\n%q", got, want)
	}
	c.Image = "public.ecr.aws/example/tlsserver:1"
	got = c.Synth(run, "/tmp/b", map[string]string{"endpointServiceName": "com.amazonaws.vpce.eu-west-1.vpce-svc-0a1b"}, "PassthroughPrivateLinkConsumer")
	want = []string{"synth", "--quiet", "--no-notices", "--no-color", "--output", "/tmp/b", "-c", "stackNameSuffix=-" + ownRun,
		"-c", "image=public.ecr.aws/example/tlsserver:1", "-c", "endpointServiceName=com.amazonaws.vpce.eu-west-1.vpce-svc-0a1b", "PassthroughPrivateLinkConsumer"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("synth with context\n%q\nwant\n%q", got, want)
	}
	got = c.Deploy(run, "/tmp/a", "PassthroughPrivateLinkProvider", "arn:aws:secretsmanager:eu-west-1:111122223333:secret:s-AbCdEf")
	want = []string{"deploy", "--app", "/tmp/a", "PassthroughPrivateLinkProvider", "--exclusively", "--require-approval", "never",
		"--parameters", "CertificateSecretArn=arn:aws:secretsmanager:eu-west-1:111122223333:secret:s-AbCdEf",
		"--tags", "passthrough:integ-run=" + ownRun, "--progress", "events", "--no-notices", "--no-color"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("deploy\n%q\nwant\n%q", got, want)
	}
}

func TestStackOutputsAndResources(t *testing.T) {
	outputs := []cftypes.Output{
		{OutputKey: aws.String("EndpointServiceServiceName5927D61C"), OutputValue: aws.String("com.amazonaws.vpce.eu-west-1.vpce-svc-0a1b")},
		{OutputKey: aws.String("LoadBalancerDNSName8F1AD18B"), OutputValue: aws.String("x.elb.eu-west-1.amazonaws.com")},
	}
	if v, err := Output(outputs, "EndpointServiceServiceName"); err != nil || v != "com.amazonaws.vpce.eu-west-1.vpce-svc-0a1b" {
		t.Errorf("output %q, %v", v, err)
	}
	if _, err := Output(outputs, "Nope"); err == nil || err.Error() != "0 stack outputs start with Nope, want one" {
		t.Errorf("missing output: %v", err)
	}
	name := "PassthroughPrivateLinkProvider-" + oldRun
	res := fixture[struct{ StackResources []cftypes.StackResource }](t, "cloudformation/describe-stack-resources-"+name+".json").StackResources
	if got := Physical(res)["EndpointServiceCBC7E217"]; got != "vpce-svc-0a1b2c3d4e5f60718" {
		t.Errorf("physical ID %q", got)
	}
	if got := OfType(res, "AWS::Logs::LogGroup"); len(got) != 2 || !strings.HasSuffix(got[0], "ApiLogsCD139AD4-hG7fT2sW9qLe") {
		t.Errorf("log groups %v", got)
	}
}

func TestServiceCluster(t *testing.T) {
	c, err := ServiceCluster("arn:aws:ecs:eu-west-1:111122223333:service/PassthroughX-Cluster-Xk2m/PassthroughX-ApiService-pO9i")
	if err != nil || c != "PassthroughX-Cluster-Xk2m" {
		t.Errorf("cluster %q, %v", c, err)
	}
	if _, err := ServiceCluster("arn:aws:ecs:eu-west-1:111122223333:service/old-format"); err == nil {
		t.Error("accepted a short ARN")
	}
}

// Only the EC2 example of architecture 1 has no way to the internet.
func TestWhichExamplesCanPullAPublicImage(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "Passthrough*.template.json"))
	for _, f := range files {
		stack := strings.TrimSuffix(filepath.Base(f), ".template.json")
		if got, want := PullsFromInternet(golden(t, stack)), stack != "PassthroughPublicServicesEC2"; got != want {
			t.Errorf("%s: pulls from the internet %v, want %v", stack, got, want)
		}
	}
}
