//go:build integ

package integ

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

var (
	groupsFlag = flag.String("groups", "", "comma-separated groups of stacks to run, all by default (see Groups)")
	imageFlag  = flag.String("image", "", "a prebuilt example server image (cdk -c image=REPOSITORY:TAG) instead of building it with Docker; "+
		"it must be the example server, for linux/amd64 and linux/arm64, and pullable by the tasks without credentials (docs/integ.md)")
	writeFlag = flag.Bool("write-measurements", false, "record the measured times in docs/measurements.json")
	sweepAge  = flag.Duration("sweep-age", 6*time.Hour, "before the run, delete what runs older than this left behind; 0 sweeps every other run")
	loopEvery = flag.Duration("loop-every", time.Second, "interval of the client loops during rolling deployments")
)

// Bounds of every wait: a run never hangs on AWS.
const (
	deployTimeout     = 60 * time.Minute
	deploymentTimeout = 30 * time.Minute // one forced new deployment
	probeTimeout      = 10 * time.Minute // a probe task, from RunTask to its log line
	loopBound         = 40 * time.Minute // an in-VPC client loop
	poll              = 10 * time.Second
	healthPoll        = 5 * time.Second
)

type clients struct {
	cfn  *cloudformation.Client
	ecs  *ecs.Client
	elb  *elb.Client
	cw   *cloudwatch.Client
	logs *cloudwatchlogs.Client
	sm   *secretsmanager.Client
	sqs  *sqs.Client
	sns  *sns.Client
}

// env is one run: its ID, where it runs, and what the groups measured.
type env struct {
	run      RunID
	region   string
	root     string
	cdk      CDK
	assembly string
	aws      clients
	creds    aws.CredentialsProvider
	mu       sync.Mutex
	measured []ServiceMeasurement
}

func newEnv(t *testing.T) *env {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatalf("AWS configuration: %v", err)
	}
	if cfg.Region == "" {
		t.Fatal("no AWS Region: set AWS_REGION")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	run, err := NewRunID(time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{run: run, region: cfg.Region, root: root, cdk: CDK{Root: root, Image: *imageFlag}, creds: cfg.Credentials, aws: clients{
		cfn: cloudformation.NewFromConfig(cfg), ecs: ecs.NewFromConfig(cfg), elb: elb.NewFromConfig(cfg),
		cw: cloudwatch.NewFromConfig(cfg), logs: cloudwatchlogs.NewFromConfig(cfg), sm: secretsmanager.NewFromConfig(cfg),
		sqs: sqs.NewFromConfig(cfg), sns: sns.NewFromConfig(cfg),
	}}
	if _, err := os.Stat(e.cdk.Bin()); err != nil {
		t.Fatalf("no pinned CDK CLI (%v): run `make tools` at the repository root", err)
	}
	t.Logf("run %s in %s", run, cfg.Region)
	return e
}

func (e *env) cleaner() Cleaner {
	return Cleaner{Run: e.run, Stacks: e.aws.cfn, Secrets: e.aws.sm, Queues: e.aws.sqs, Logs: e.aws.logs, Tasks: e.aws.ecs, Subscriptions: e.aws.sns}
}

// TestExamples is the suite: every group of example stacks, in parallel.
func TestExamples(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.sweep(t, ctx, *sweepAge)
	groups, err := SelectGroups(*groupsFlag)
	if err != nil {
		t.Fatal(err)
	}
	e.assembly = filepath.Join(t.TempDir(), "assembly")
	if err := e.runCDK(t, ctx, 20*time.Minute, e.cdk.Synth(e.run, e.assembly, nil)...); err != nil {
		t.Fatalf("cdk synth: %v", err)
	}
	t.Run("group", func(t *testing.T) {
		for _, g := range groups {
			t.Run(g.Name, func(t *testing.T) {
				t.Parallel()
				e.runGroup(t, ctx, g)
			})
		}
	})
	if *writeFlag {
		path := filepath.Join(e.root, "docs", "measurements.json")
		if len(e.measured) == 0 {
			t.Errorf("nothing measured to write to %s", path)
			return
		}
		if err := WriteMeasurements(path, e.run, e.region, e.measured); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s; regenerate docs/rollout.md at the repository root: go test ./test -run TestRolloutDocIsCurrent -update", path)
	}
}

// TestSweep only sweeps: go test -tags integ -run TestSweep -sweep-age 0.
func TestSweep(t *testing.T) {
	e := newEnv(t)
	e.sweep(t, context.Background(), *sweepAge)
}

// sweep deletes what runs older than age left behind. What it cannot
// delete fails the test, named.
func (e *env) sweep(t *testing.T, ctx context.Context, age time.Duration) {
	s := Sweeper{Stacks: e.aws.cfn, Secrets: e.aws.sm, Queues: e.aws.sqs, Logs: e.aws.logs, MinAge: age, Skip: e.run}
	runs, notes, err := s.Find(ctx, time.Now())
	for _, n := range notes {
		t.Logf("sweep: skipped: %s", n)
	}
	if err != nil {
		t.Errorf("sweep: %v", err)
		return
	}
	for _, inv := range runs {
		c := e.cleaner()
		c.Run = inv.Run
		r := c.Execute(ctx, PlanCleanup(inv))
		t.Logf("sweep: run %s: deleted %d: %s", inv.Run, len(r.Deleted), strings.Join(r.Deleted, "; "))
		if err := r.Err(); err != nil {
			t.Errorf("sweep: run %s: %v", inv.Run, err)
		}
	}
}

// runCDK runs the pinned CDK CLI at the repository root, and on failure
// logs the end of its output.
func (e *env) runCDK(t *testing.T, ctx context.Context, timeout time.Duration, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.cdk.Bin(), args...)
	cmd.Dir = e.root
	cmd.Env = append(os.Environ(), "PATH="+filepath.Join(e.root, "node_modules", ".bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	t.Logf("cdk %s: %s", args[0], time.Since(start).Round(time.Second))
	if err != nil {
		return fmt.Errorf("%w; last output:\n%s", err, tail(out.String(), 60))
	}
	return nil
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(l[max(0, len(l)-lines):], "\n")
}

// wait polls check every interval until it reports done, ctx ends or bound
// passes.
func wait(ctx context.Context, bound, interval time.Duration, check func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	for {
		done, err := check()
		if done || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not done after %s", bound)
		case <-time.After(interval):
		}
	}
}
