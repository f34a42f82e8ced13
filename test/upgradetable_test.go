package test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
	"github.com/passthrough-cdk/passthrough/internal/cdktest"
	"github.com/passthrough-cdk/passthrough/internal/golden"
	"github.com/passthrough-cdk/passthrough/internal/upgrade"
)

// The README's table of what a change replaces ("Upgrade safety") is
// generated here: a small app is synthesized before and after each change,
// and the pair is classified with CloudFormation's update semantics and the
// refusals of package upgrade, the machinery that checks the examples
// (replacements_test.go). Only the notes are written by hand.

// tableApp is the app a row changes: a stack "Payments" with a cluster, a
// load balancer and Fargate services, "Api" on 443 first.
type tableApp struct {
	lbID           string
	internetFacing bool
	lbName         string
	edgeSubnets    bool // the load balancer in the "Edge" subnets of a given VPC
	givenVpc       bool // a VPC with "Public", "Edge" and "Private" subnets
	crossZoneOff   bool
	protect        bool
	natGateways    float64
	vpcEndpoints   bool
	services       []tableService
}

type tableService struct {
	id            string
	listenerPort  float64
	containerPort float64
	serviceName   string
	spot, arm64   bool
}

func baseTableApp() tableApp {
	return tableApp{lbID: "LB", internetFacing: true, natGateways: 1,
		services: []tableService{{id: "Api", listenerPort: 443, containerPort: 8443}}}
}

func (a tableApp) synth(t *testing.T) map[string]any {
	t.Helper()
	app := cdktest.NewApp(t, cdktest.AppContext(t))
	stack := awscdk.NewStack(app, jsii.String("Payments"), nil)
	cp := &passthrough.ClusterProps{}
	lbProps := &passthrough.LoadBalancerProps{InternetFacing: jsii.Bool(a.internetFacing)}
	if a.givenVpc {
		cp.Vpc = awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{
			MaxAzs:      jsii.Number(2),
			NatGateways: jsii.Number(1),
			SubnetConfiguration: &[]*awsec2.SubnetConfiguration{
				{Name: jsii.String("Public"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(24)},
				{Name: jsii.String("Edge"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(24)},
				{Name: jsii.String("Private"), SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS, CidrMask: jsii.Number(22)},
			},
		})
		if a.edgeSubnets {
			lbProps.VpcSubnets = &awsec2.SubnetSelection{SubnetGroupName: jsii.String("Edge")}
		} else {
			lbProps.VpcSubnets = &awsec2.SubnetSelection{SubnetGroupName: jsii.String("Public")}
		}
	} else {
		cp.NatGateways = jsii.Number(a.natGateways)
		cp.VpcEndpoints = jsii.Bool(a.vpcEndpoints)
	}
	cluster := passthrough.NewCluster(stack, jsii.String("Cluster"), cp)
	lbProps.Vpc = cluster.Vpc
	if a.lbName != "" {
		lbProps.LoadBalancerName = jsii.String(a.lbName)
	}
	lbProps.CrossZoneEnabled = jsii.Bool(!a.crossZoneOff)
	lbProps.DeletionProtection = jsii.Bool(a.protect)
	lb := passthrough.NewLoadBalancer(stack, jsii.String(a.lbID), lbProps)
	for _, s := range a.services {
		p := passthrough.ServiceProps{
			Cluster: cluster, LoadBalancer: lb,
			Image:         awsecs.ContainerImage_FromRegistry(jsii.String("registry.example.com/payments-api:1.4.2"), nil),
			ListenerPort:  jsii.Number(s.listenerPort),
			ContainerPort: jsii.Number(s.containerPort),
		}
		if s.serviceName != "" {
			p.ServiceName = jsii.String(s.serviceName)
		}
		passthrough.NewFargateService(stack, jsii.String(s.id), &passthrough.FargateServiceProps{
			ServiceProps: p, Spot: jsii.Bool(s.spot), ARM64: jsii.Bool(s.arm64),
		})
	}
	template, ok := cdktest.Synth(t, app).GetStackByName(jsii.String("Payments")).Template().(map[string]any)
	if !ok {
		t.Fatal("template is not a JSON object")
	}
	return template
}

// tableRow is one change: the base app as before and after change it.
type tableRow struct {
	change        string
	before, after func(a *tableApp)
	notes         string
}

func keep(*tableApp) {}

var tableRows = []tableRow{
	{"`LoadBalancerProps.InternetFacing`", keep, func(a *tableApp) { a.internetFacing = false },
		"a new DNS name; the target groups follow their load balancer. [Replacing a load balancer](docs/upgrades.md#replacing-a-load-balancer)"},
	{"`InternetFacing`, with `LoadBalancerName` kept", func(a *tableApp) { a.lbName = "payments" }, func(a *tableApp) { a.lbName = "payments"; a.internetFacing = false },
		"give it a new name in the same change"},
	{"`LoadBalancerProps.LoadBalancerName`", keep, func(a *tableApp) { a.lbName = "payments" },
		"a new DNS name; a named load balancer cannot be replaced without a new name"},
	{"the load balancer's construct ID", keep, func(a *tableApp) { a.lbID = "Edge" },
		"a new DNS name; as `InternetFacing`"},
	{"`LoadBalancerProps.VpcSubnets`", func(a *tableApp) { a.givenVpc = true }, func(a *tableApp) { a.givenVpc = true; a.edgeSubnets = true },
		"a zone removed drops its connections; a subnet swapped within a zone takes two deployments (remove, then add); refused while VPC endpoints of an endpoint service are associated. [Changing subnets](docs/upgrades.md#changing-the-load-balancers-subnets)"},
	{"`LoadBalancerProps.CrossZoneEnabled`, `DeletionProtection`", keep, func(a *tableApp) { a.crossZoneOff = true; a.protect = true }, ""},
	{"`ServiceProps.ListenerPort`", keep, func(a *tableApp) { a.services[0].listenerPort = 9443 },
		"the listener moves: clients on the old port are refused at once"},
	{"two services swap `ListenerPort`", func(a *tableApp) {
		a.services = append(a.services, tableService{id: "Admin", listenerPort: 8443, containerPort: 8443})
	}, func(a *tableApp) {
		a.services = append(a.services, tableService{id: "Admin", listenerPort: 443, containerPort: 8443})
		a.services[0].listenerPort = 8443
	}, "move one to a free port first, in a deployment of its own. [Moving a listener port](docs/upgrades.md#moving-a-listener-port)"},
	{"`ServiceProps.ContainerPort`", keep, func(a *tableApp) { a.services[0].containerPort = 9000 },
		"tasks roll; the rules for the port are replaced, the target group and security group are not"},
	{"`ServiceProps.ServiceName`", keep, func(a *tableApp) { a.services[0].serviceName = "payments-api" },
		"new tasks start beside the old ones in the same target group"},
	{"`FargateServiceProps.Spot`", keep, func(a *tableApp) { a.services[0].spot = true },
		"its `LaunchType` goes; new tasks start beside the old ones"},
	{"`Spot`, with `ServiceName` kept", func(a *tableApp) { a.services[0].serviceName = "payments-api" },
		func(a *tableApp) { a.services[0].serviceName = "payments-api"; a.services[0].spot = true },
		"change `ServiceName` in the same change, or leave it unset"},
	{"`FargateServiceProps.ARM64`", keep, func(a *tableApp) { a.services[0].arm64 = true }, "a new task definition; tasks roll"},
	{"a service's construct ID", keep, func(a *tableApp) { a.services[0].id = "Web" },
		"everything beneath gets new logical IDs, and the new listener is created before the old one leaves the port. [Renaming or moving a service](docs/upgrades.md#renaming-or-moving-a-service)"},
	{"`ClusterProps.NatGateways` 1 to 0", func(a *tableApp) { a.vpcEndpoints = true }, func(a *tableApp) { a.vpcEndpoints = true; a.natGateways = 0 },
		"the private subnets lose their NAT route; tasks keep the VPC endpoints"},
	{"`ClusterProps.VpcEndpoints`", keep, func(a *tableApp) { a.vpcEndpoints = true }, "services wait for the new endpoints"},
}

// tableMarker opens and closes the generated table in README.md.
const (
	tableBegin = "<!-- upgrade-table: generated by TestReadmeReplacementTable (test/upgradetable_test.go); regenerate with `go test ./test -run TestReadmeReplacementTable -update` -->"
	tableEnd   = "<!-- /upgrade-table -->"
)

var readmeFile = filepath.Join("..", "README.md")

// The README's replacement table is what the machinery that checks the
// examples says of each change: the resources it replaces (load balancer,
// listener, target group, ECS service, security group, endpoint service,
// named alarm) and whether CloudFormation refuses the update. One Node.js
// process classifies every row.
func TestReadmeReplacementTable(t *testing.T) {
	var pairs []upgrade.Pair
	cache := map[string]map[string]any{}
	synth := func(a tableApp) map[string]any {
		key, _ := json.Marshal(fmt.Sprintf("%+v", a))
		if tpl, ok := cache[string(key)]; ok {
			return tpl
		}
		tpl := a.synth(t)
		cache[string(key)] = tpl
		return tpl
	}
	for i, row := range tableRows {
		// Both start from the base app: after says all that differs from it.
		before, after := baseTableApp(), baseTableApp()
		row.before(&before)
		row.after(&after)
		pairs = append(pairs, upgrade.Pair{Name: fmt.Sprint(i), Old: synth(before), New: synth(after)})
	}
	results, err := upgrade.Analyze(pairs)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("| change | replaces | CloudFormation | notes |\n| --- | --- | --- | --- |\n")
	for i, row := range tableRows {
		r := results[i]
		replaces := strings.Join(r.ReplacedRoles(), ", ")
		if replaces == "" {
			replaces = "nothing"
		}
		update := "updates"
		if kinds := r.RefusedKinds(); len(kinds) > 0 {
			update = "**refuses**: " + strings.Join(kinds, "; ")
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", row.change, replaces, update, row.notes)
	}
	checkReadmeSection(t, b.String())
}

// checkReadmeSection compares the README's generated table with want, or
// with -update writes want there.
func checkReadmeSection(t *testing.T, want string) {
	t.Helper()
	raw, err := os.ReadFile(readmeFile)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	begin := strings.Index(readme, tableBegin)
	end := strings.Index(readme, tableEnd)
	if begin < 0 || end < begin {
		t.Fatalf("%s has no %s ... %s block", readmeFile, tableBegin, tableEnd)
	}
	got := readme[begin+len(tableBegin)+1 : end]
	if got == want {
		return
	}
	if golden.Updating() {
		readme = readme[:begin+len(tableBegin)+1] + want + readme[end:]
		if err := os.WriteFile(readmeFile, []byte(readme), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("the replacement table in %s differs from what the changes do (-README +computed):\n%s\nRun `%s` and review the diff of README.md.",
		readmeFile, golden.Diff(got, want), golden.Command)
}
