//go:build integ

package integ

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// group is one group's run: its certificate and secret, its stacks as
// deployed, and what it made, for the clean-up.
type group struct {
	*env
	Group
	cert      Certificate
	secretARN string
	stacks    []*deployed

	mu  sync.Mutex
	inv Inventory
}

// deployed is one stack as CloudFormation has it.
type deployed struct {
	id, name  string
	template  map[string]any
	resources []cftypes.StackResource
	outputs   []cftypes.Output
	logical   map[string]string                   // physical ID -> logical ID
	physical  map[string]string                   // logical ID -> physical ID
	services  map[string]ecstypes.Service         // by logical ID
	taskDefs  map[string]*ecstypes.TaskDefinition // by the service's logical ID
	dns       map[string]string                   // load balancer logical ID -> DNS name
	creation  map[string][]HealthSample           // target group ARN -> samples while deploying
	created   map[string]Creation                 // service logical ID -> creation times
}

func (e *env) runGroup(t *testing.T, ctx context.Context, g Group) {
	gr := &group{env: e, Group: g, inv: Inventory{Run: e.run}}
	// Registered first, so it runs last and always: after a failed
	// assertion, a failed deployment or a panic.
	t.Cleanup(func() { gr.cleanUp(t) })

	var err error
	gr.cert, err = GenerateCertificate(ctx, e.root, t.TempDir(), e.run.SecretName(g.Name))
	if err != nil {
		t.Fatal(err)
	}
	secret, err := e.aws.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String(e.run.SecretName(g.Name)),
		Description:  aws.String("Throwaway certificate of a Passthrough deploy test run; deleted by the run or its sweeper"),
		SecretString: aws.String(gr.cert.Secret),
		Tags:         []smtypes.Tag{{Key: aws.String(TagKey), Value: aws.String(string(e.run))}},
	})
	if err != nil {
		t.Fatalf("create the certificate secret: %v", err)
	}
	gr.secretARN = aws.ToString(secret.ARN)
	gr.record(func(inv *Inventory) { inv.Secrets = append(inv.Secrets, gr.secretARN) })

	for _, id := range g.Stacks {
		gr.stacks = append(gr.stacks, gr.deploy(t, ctx, id))
	}
	if g.Name == "PrivateLink" {
		gr.acceptEndpoint(t, ctx)
	}
	fingerprint := []string{gr.cert.Fingerprint}
	t.Run("healthy targets", func(t *testing.T) { gr.checkHealth(t, ctx) })
	t.Run("paths", func(t *testing.T) { gr.checkPaths(t, ctx, fingerprint) })
	var measured []ServiceMeasurement
	t.Run("rolling deployment", func(t *testing.T) { measured = gr.rollOut(t, ctx, fingerprint) })
	t.Run("certificate rotation", func(t *testing.T) { gr.rotate(t, ctx) })
	t.Run("alarm notifications", func(t *testing.T) { gr.checkAlarms(t, ctx) })
	if !t.Failed() {
		e.mu.Lock()
		e.measured = append(e.measured, measured...)
		e.mu.Unlock()
	}
}

func (gr *group) record(f func(*Inventory)) {
	gr.mu.Lock()
	defer gr.mu.Unlock()
	f(&gr.inv)
}

// deploy deploys one stack of the group while sampling its target groups,
// and reads it back.
func (gr *group) deploy(t *testing.T, ctx context.Context, id string) *deployed {
	t.Helper()
	assembly := gr.assembly
	if id == "PassthroughPrivateLinkConsumer" {
		// The consumer names the provider's endpoint service, known once
		// the provider is deployed.
		provider := gr.stacks[len(gr.stacks)-1]
		name, err := Output(provider.outputs, "EndpointServiceServiceName")
		if err != nil {
			t.Fatal(err)
		}
		assembly = filepath.Join(t.TempDir(), "consumer")
		if err := gr.runCDK(t, ctx, 20*time.Minute, gr.cdk.Synth(gr.run, assembly, map[string]string{"endpointServiceName": name}, id)...); err != nil {
			t.Fatalf("cdk synth %s: %v", id, err)
		}
	}
	stacks, err := ReadAssembly(assembly)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Stack(stacks, id)
	if err != nil {
		t.Fatal(err)
	}
	template, err := s.Template(assembly)
	if err != nil {
		t.Fatal(err)
	}
	if gr.cdk.Image != "" && !PullsFromInternet(template) {
		t.Skipf("%s has no way to the internet and cannot pull %s; run it without -image (docs/integ.md)", id, gr.cdk.Image)
	}
	// Newest first in the clean-up: a stack goes before those it needs.
	gr.record(func(inv *Inventory) {
		inv.Stacks = append([]StackInventory{{Name: s.StackName}}, inv.Stacks...)
	})

	watchCtx, stop := context.WithCancel(ctx)
	samples := make(chan map[string][]HealthSample, 1)
	go func() { samples <- gr.watch(watchCtx, s.StackName) }()
	err = gr.runCDK(t, ctx, deployTimeout, gr.cdk.Deploy(gr.run, assembly, id, gr.secretARN)...)
	stop()
	creation := <-samples
	if err != nil {
		t.Fatalf("cdk deploy %s: %v", id, err)
	}
	d, err := gr.describe(ctx, id, s.StackName, template)
	if err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	d.creation = creation
	return d
}

// watch samples the health of the stack's target groups until ctx ends,
// from the moment CloudFormation has created them.
func (gr *group) watch(ctx context.Context, stack string) map[string][]HealthSample {
	out := map[string][]HealthSample{}
	for {
		res, err := gr.aws.cfn.DescribeStackResources(ctx, &cloudformation.DescribeStackResourcesInput{StackName: aws.String(stack)})
		if err == nil {
			for _, tg := range OfType(res.StackResources, "AWS::ElasticLoadBalancingV2::TargetGroup") {
				h, err := gr.aws.elb.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(tg)})
				if err == nil {
					out[tg] = append(out[tg], HealthSample{At: time.Now(), Targets: h.TargetHealthDescriptions})
				}
			}
		}
		select {
		case <-ctx.Done():
			return out
		case <-time.After(healthPoll):
		}
	}
}

// describe reads a deployed stack: resources, outputs, services, task
// definitions and load balancers' DNS names.
func (gr *group) describe(ctx context.Context, id, name string, template map[string]any) (*deployed, error) {
	d := &deployed{id: id, name: name, template: template, logical: map[string]string{},
		services: map[string]ecstypes.Service{}, taskDefs: map[string]*ecstypes.TaskDefinition{}, dns: map[string]string{}, created: map[string]Creation{}}
	res, err := gr.aws.cfn.DescribeStackResources(ctx, &cloudformation.DescribeStackResourcesInput{StackName: aws.String(name)})
	if err != nil {
		return nil, err
	}
	d.resources, d.physical = res.StackResources, Physical(res.StackResources)
	for l, p := range d.physical {
		d.logical[p] = l
	}
	st, err := gr.aws.cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
	if err != nil {
		return nil, err
	}
	d.outputs = st.Stacks[0].Outputs
	gr.record(func(inv *Inventory) {
		for i := range inv.Stacks {
			if inv.Stacks[i].Name == name {
				inv.Stacks[i] = StackLeftovers(name, d.resources)
			}
		}
	})
	for _, arn := range OfType(d.resources, "AWS::ECS::Service") {
		cluster, err := ServiceCluster(arn)
		if err != nil {
			return nil, err
		}
		out, err := gr.aws.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{arn}})
		if err != nil || len(out.Services) != 1 {
			return nil, fmt.Errorf("service %s: %v %v", arn, err, out)
		}
		svc := out.Services[0]
		td, err := gr.aws.ecs.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: svc.TaskDefinition})
		if err != nil {
			return nil, err
		}
		d.services[d.logical[arn]], d.taskDefs[d.logical[arn]] = svc, td.TaskDefinition
	}
	lbs := OfType(d.resources, "AWS::ElasticLoadBalancingV2::LoadBalancer")
	if len(lbs) > 0 {
		out, err := gr.aws.elb.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{LoadBalancerArns: lbs})
		if err != nil {
			return nil, err
		}
		for _, lb := range out.LoadBalancers {
			d.dns[d.logical[aws.ToString(lb.LoadBalancerArn)]] = aws.ToString(lb.DNSName)
		}
	}
	return d, nil
}

// cleanUp deletes everything the group made, whatever happened before, and
// fails the test naming what it could not delete.
func (gr *group) cleanUp(t *testing.T) {
	// The test's own context may be gone; the clean-up has its own bound.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Minute)
	defer cancel()
	gr.mu.Lock()
	inv := gr.inv
	inv.Stacks = slices.Clone(gr.inv.Stacks)
	gr.mu.Unlock()
	// A stack whose deployment failed half-way was never read back: read
	// its clusters and log groups now.
	for i, s := range inv.Stacks {
		if len(s.Clusters) == 0 && len(s.LogGroups) == 0 {
			if res, err := gr.aws.cfn.DescribeStackResources(ctx, &cloudformation.DescribeStackResourcesInput{StackName: aws.String(s.Name)}); err == nil {
				inv.Stacks[i] = StackLeftovers(s.Name, res.StackResources)
			}
		}
	}
	r := gr.cleaner().Execute(ctx, PlanCleanup(inv))
	t.Logf("clean-up of %s: deleted %d", gr.Name, len(r.Deleted))
	if err := r.Err(); err != nil {
		t.Error(err)
	}
}

// acceptEndpoint accepts the consumer's endpoint connection to the
// provider's endpoint service, as the PrivateLink steps in docs/architectures.md do.
func (gr *group) acceptEndpoint(t *testing.T, ctx context.Context) {
	provider, consumer := gr.stacks[0], gr.stacks[1]
	services := OfType(provider.resources, "AWS::EC2::VPCEndpointService")
	endpoints := OfType(consumer.resources, "AWS::EC2::VPCEndpoint")
	if len(services) != 1 || len(endpoints) != 1 {
		t.Fatalf("endpoint services %v, endpoints %v: want one of each", services, endpoints)
	}
	if err := AcceptEndpointConnections(ctx, gr.creds, http.DefaultClient, EC2Endpoint(gr.region), gr.region, services[0], endpoints, time.Now()); err != nil {
		t.Fatal(err)
	}
}
