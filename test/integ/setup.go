package integ

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
)

// Group is a set of example stacks deployed, checked and deleted together,
// sharing one certificate secret: the PrivateLink consumer calls its
// provider, so the provider's certificate is the one it must be served.
type Group struct {
	Name string
	// Stacks are construct IDs (examples/stacks.Names) in deployment order.
	Stacks []string
}

// Groups are the example stacks as the suite deploys them, one group per
// architecture; groups run in parallel.
var Groups = []Group{
	{Name: "PublicServicesFargate", Stacks: []string{"PassthroughPublicServicesFargate"}},
	{Name: "PublicServicesEC2", Stacks: []string{"PassthroughPublicServicesEC2"}},
	{Name: "ServiceToServiceFargate", Stacks: []string{"PassthroughServiceToServiceFargate"}},
	{Name: "ServiceToServiceEC2", Stacks: []string{"PassthroughServiceToServiceEC2"}},
	{Name: "PublicAndInternal", Stacks: []string{"PassthroughPublicAndInternalFargate"}},
	{Name: "PrivateLink", Stacks: []string{"PassthroughPrivateLinkProvider", "PassthroughPrivateLinkConsumer"}},
}

// SelectGroups returns the groups named in a comma-separated list, all of
// them for an empty one.
func SelectGroups(names string) ([]Group, error) {
	if strings.TrimSpace(names) == "" {
		return Groups, nil
	}
	var out []Group
	for _, n := range strings.Split(names, ",") {
		n = strings.TrimSpace(n)
		found := false
		for _, g := range Groups {
			if strings.EqualFold(g.Name, n) {
				out, found = append(out, g), true
			}
		}
		if !found {
			var all []string
			for _, g := range Groups {
				all = append(all, g.Name)
			}
			return nil, fmt.Errorf("no group %q; the groups are %s", n, strings.Join(all, ", "))
		}
	}
	return out, nil
}

// CertHosts are the names the run's certificates are issued for: every
// name a caller uses (the *_ADDRESS variables of the examples, which
// TestCertificateNamesEveryCallersHost reads from the golden templates),
// and localhost. The probes pin the fingerprint rather than verify names,
// but a certificate that names its hosts is what a user deploys.
var CertHosts = []string{
	"localhost",
	"orders.svc.passthrough.example",
	"billing.svc.passthrough.example",
	"lb.internal.passthrough.example",
	"api.provider.passthrough.example",
}

// Certificate is a throwaway certificate made by the example server's
// -gen-cert: what the secret holds and what the checks need.
type Certificate struct {
	// Fingerprint is the SHA-256 of the server certificate.
	Fingerprint string
	// Client is the client certificate for listeners that require mutual
	// TLS, and ClientPEM/ClientKeyPEM its PEM for a probe task.
	Client                  tls.Certificate
	ClientPEM, ClientKeyPEM string
	// Secret is the Secrets Manager secret value (secret.json).
	Secret string
}

// GenerateCertificate runs `go run . -gen-cert` in examples/tlsserver under
// root, writing into dir. It runs in the server's own directory so that it
// works whether the server is a package of the root module or a module of
// its own.
func GenerateCertificate(ctx context.Context, root, dir, secretName string) (Certificate, error) {
	cmd := exec.CommandContext(ctx, "go", "run", ".", "-gen-cert", "-hosts", strings.Join(CertHosts, ","), "-days", "2",
		"-out", dir, "-secret-name", secretName)
	cmd.Dir = filepath.Join(root, "examples", "tlsserver")
	if out, err := cmd.CombinedOutput(); err != nil {
		return Certificate{}, fmt.Errorf("tlsserver -gen-cert: %w\n%s", err, out)
	}
	read := func(name string) (string, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		return string(b), err
	}
	var c Certificate
	var certPEM string
	var err error
	for name, dst := range map[string]*string{"cert.pem": &certPEM, "client.pem": &c.ClientPEM, "client-key.pem": &c.ClientKeyPEM, "secret.json": &c.Secret} {
		if *dst, err = read(name); err != nil {
			return Certificate{}, err
		}
	}
	block, _ := pem.Decode([]byte(certPEM))
	if block == nil || block.Type != "CERTIFICATE" {
		return Certificate{}, errors.New("cert.pem holds no certificate")
	}
	c.Fingerprint = Fingerprint(block.Bytes)
	if c.Client, err = tls.X509KeyPair([]byte(c.ClientPEM), []byte(c.ClientKeyPEM)); err != nil {
		return Certificate{}, fmt.Errorf("client certificate: %w", err)
	}
	return c, nil
}

// CDK builds the command lines of the pinned CDK CLI (node_modules/.bin/cdk
// under Root, installed by `make tools`).
type CDK struct {
	Root string
	// Image, when set, is the prebuilt example server image (-c image=),
	// so that no Docker engine is needed.
	Image string
}

// Bin is the CLI's path.
func (c CDK) Bin() string { return filepath.Join(c.Root, "node_modules", ".bin", "cdk") }

// Synth synthesizes the stacks (all without any) of the example app, with
// the run's stack-name suffix, into the cloud assembly out.
func (c CDK) Synth(run RunID, out string, values map[string]string, stacks ...string) []string {
	args := []string{"synth", "--quiet", "--no-notices", "--no-color", "--output", out, "-c", "stackNameSuffix=" + run.Suffix()}
	if c.Image != "" {
		args = append(args, "-c", "image="+c.Image)
	}
	for _, k := range slices.Sorted(maps.Keys(values)) {
		args = append(args, "-c", k+"="+values[k])
	}
	if len(stacks) == 0 {
		return append(args, "--all")
	}
	return append(args, stacks...)
}

// Deploy deploys one stack of a synthesized assembly, tagged with the run,
// with the secret's ARN as its CertificateSecretArn parameter. It deploys
// the assembly rather than the app, so what is checked is what was
// synthesized; the example image (unless Image) is built here, by Docker.
func (c CDK) Deploy(run RunID, assembly, stack, secretARN string) []string {
	return []string{"deploy", "--app", assembly, stack, "--exclusively",
		"--require-approval", "never",
		"--parameters", "CertificateSecretArn=" + secretARN,
		"--tags", TagKey + "=" + string(run),
		"--progress", "events", "--no-notices", "--no-color"}
}

// Output finds a stack output by the start of its key: CDK appends a hash
// to an output's ID ("EndpointServiceServiceName5927D61C").
func Output(outputs []cftypes.Output, prefix string) (string, error) {
	var found []string
	for _, o := range outputs {
		if strings.HasPrefix(aws.ToString(o.OutputKey), prefix) {
			found = append(found, aws.ToString(o.OutputValue))
		}
	}
	if len(found) != 1 {
		return "", fmt.Errorf("%d stack outputs start with %s, want one", len(found), prefix)
	}
	return found[0], nil
}

// Physical maps a stack's logical IDs to physical IDs
// (DescribeStackResources).
func Physical(resources []cftypes.StackResource) map[string]string {
	out := map[string]string{}
	for _, r := range resources {
		if id := aws.ToString(r.PhysicalResourceId); id != "" {
			out[aws.ToString(r.LogicalResourceId)] = id
		}
	}
	return out
}

// OfType lists the physical IDs of a stack's resources of one type, sorted.
func OfType(resources []cftypes.StackResource, typ string) []string {
	var out []string
	for _, r := range resources {
		if aws.ToString(r.ResourceType) == typ && aws.ToString(r.PhysicalResourceId) != "" {
			out = append(out, aws.ToString(r.PhysicalResourceId))
		}
	}
	slices.Sort(out)
	return out
}

// ServiceCluster is the cluster name in a service's ARN
// (arn:aws:ecs:REGION:ACCOUNT:service/CLUSTER/SERVICE, the long ARN format
// every service created since 2021 has).
func ServiceCluster(arn string) (string, error) {
	_, rest, ok := strings.Cut(arn, ":service/")
	parts := strings.Split(rest, "/")
	if !ok || len(parts) != 2 || parts[0] == "" {
		return "", fmt.Errorf("%q is not a service ARN of the long format", arn)
	}
	return parts[0], nil
}

// PullsFromInternet reports whether a stack's tasks can reach the internet
// (its VPC has a NAT gateway). One that cannot, the EC2 example of
// architecture 1, pulls images only through its VPC endpoints from ECR in
// the same Region: a prebuilt image from a public registry (-image) cannot
// reach it.
func PullsFromInternet(template map[string]any) bool {
	resources, _ := template["Resources"].(map[string]any)
	for _, r := range resources {
		if m, _ := r.(map[string]any); m["Type"] == "AWS::EC2::NatGateway" {
			return true
		}
	}
	return false
}
