//go:build integ

package integ

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// checkHealth: every target group of every service has only healthy
// targets, at least the service's desired count, and the creation times
// the watcher sampled are recorded.
func (gr *group) checkHealth(t *testing.T, ctx context.Context) {
	for _, d := range gr.stacks {
		for logical, svc := range d.services {
			for _, lb := range svc.LoadBalancers {
				tg := aws.ToString(lb.TargetGroupArn)
				h, err := gr.aws.elb.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(tg)})
				if err != nil {
					t.Errorf("%s/%s: %v", d.id, logical, err)
					continue
				}
				if err := AllHealthy(h.TargetHealthDescriptions, int(svc.DesiredCount)); err != nil {
					t.Errorf("%s/%s: %v", d.id, logical, err)
				}
				c, err := MeasureCreation(aws.ToTime(svc.CreatedAt), Timelines(d.creation[tg]))
				if err != nil {
					t.Errorf("%s/%s: creation times: %v", d.id, logical, err)
					continue
				}
				d.created[logical] = c
				t.Logf("%s/%s: first target registered %s, healthy %s after the service was created; longest registration %s",
					d.id, logical, c.TaskStart.Round(time.Second), c.FirstHealthy.Round(time.Second), c.Registration.Round(time.Second))
			}
		}
	}
}

// address is what a check dials once deployed.
func (d *deployed) address(c PathCheck) (string, error) {
	if c.Address != "" {
		return c.Address, nil
	}
	dns := d.dns[c.LoadBalancer]
	if dns == "" {
		return "", fmt.Errorf("no DNS name for load balancer %s", c.LoadBalancer)
	}
	return net.JoinHostPort(dns, strconv.Itoa(c.Port)), nil
}

// checkPaths checks every path of every stack against the fingerprints.
func (gr *group) checkPaths(t *testing.T, ctx context.Context, fingerprints []string) {
	var wg sync.WaitGroup
	for _, d := range gr.stacks {
		checks, err := PlanPaths(d.template)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range checks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := gr.checkPath(ctx, d, c, fingerprints); err != nil {
					t.Errorf("%s: %s: %v", d.id, c.Name, err)
				} else {
					t.Logf("%s: %s: ok", d.id, c.Name)
				}
			}()
		}
	}
	wg.Wait()
}

func (gr *group) checkPath(ctx context.Context, d *deployed, c PathCheck, fingerprints []string) error {
	addr, err := d.address(c)
	if err != nil {
		return err
	}
	if c.From == FromTestProcess {
		dialer := Dialer{Timeout: 10 * time.Second}
		if c.MutualTLS {
			dialer.ClientCert = &gr.cert.Client
		}
		if c.Refused {
			return dialer.Observe(ctx, addr).CheckRefused()
		}
		// A new load balancer's name can take a while to resolve
		// everywhere: a few tries, then the last error counts.
		for try := 1; ; try++ {
			err = dialer.Observe(ctx, addr).Check(fingerprints...)
			if err == nil || try == 6 {
				return err
			}
			time.Sleep(20 * time.Second)
		}
	}
	var env map[string]string
	if c.MutualTLS {
		// The throwaway client key goes into the RunTask request; it
		// exists for this run only.
		env = map[string]string{"PROBE_CLIENT_CERT": gr.cert.ClientPEM, "PROBE_CLIENT_KEY": gr.cert.ClientKeyPEM}
	}
	// Inside the VPC too, a few tries: a private DNS record or an endpoint
	// connection just accepted can take a minute to work.
	for try := 1; ; try++ {
		err = gr.probeOnce(ctx, d, c.Caller, addr, fingerprints, env)
		if err == nil || try == 3 {
			return err
		}
		time.Sleep(time.Minute)
	}
}

func (gr *group) probeOnce(ctx context.Context, d *deployed, caller, addr string, fingerprints []string, env map[string]string) error {
	task, err := gr.startProbe(ctx, d, caller, ProbeCommand(addr, "", fingerprints, 0, 0), env)
	if err != nil {
		return err
	}
	r, err := gr.probeResult(ctx, d, caller, task, probeTimeout)
	if err != nil {
		return err
	}
	return r.Check(fingerprints...)
}

// startProbe runs a probe task as the caller service and returns its ARN.
func (gr *group) startProbe(ctx context.Context, d *deployed, caller string, command []string, env map[string]string) (string, error) {
	in, err := ProbeTask(d.services[caller], d.taskDefs[caller], command, env, gr.run)
	if err != nil {
		return "", err
	}
	out, err := gr.aws.ecs.RunTask(ctx, in)
	if err != nil {
		return "", fmt.Errorf("run a probe task as %s: %w", caller, err)
	}
	if len(out.Failures) > 0 {
		return "", fmt.Errorf("run a probe task as %s: %s %s", caller, aws.ToString(out.Failures[0].Reason), aws.ToString(out.Failures[0].Detail))
	}
	if len(out.Tasks) != 1 {
		return "", fmt.Errorf("run a probe task as %s: %d tasks started", caller, len(out.Tasks))
	}
	return aws.ToString(out.Tasks[0].TaskArn), nil
}

// probeResult waits for a probe task to stop and reads its line from
// CloudWatch Logs, which may arrive a little after the task stopped.
func (gr *group) probeResult(ctx context.Context, d *deployed, caller, taskARN string, bound time.Duration) (ProbeResult, error) {
	cluster := d.services[caller].ClusterArn
	var task ecstypes.Task
	err := wait(ctx, bound, poll, func() (bool, error) {
		out, err := gr.aws.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: cluster, Tasks: []string{taskARN}})
		if err != nil || len(out.Tasks) != 1 {
			return false, err
		}
		task = out.Tasks[0]
		return aws.ToString(task.LastStatus) == "STOPPED", nil
	})
	if err != nil {
		return ProbeResult{}, fmt.Errorf("probe task %s: %w", TaskID(taskARN), err)
	}
	code, err := ProbeExit(task)
	if err != nil {
		return ProbeResult{}, err
	}
	group, stream, err := ProbeLogStream(d.taskDefs[caller], taskARN)
	if err != nil {
		return ProbeResult{}, err
	}
	var r ProbeResult
	err = wait(ctx, 2*time.Minute, poll, func() (bool, error) {
		out, err := gr.aws.logs.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream), StartFromHead: aws.Bool(true)})
		if err != nil {
			return false, nil // the stream may not exist yet
		}
		var messages []string
		for _, e := range out.Events {
			messages = append(messages, aws.ToString(e.Message))
		}
		r, err = ParseProbeLog(messages)
		return err == nil, nil
	})
	if err != nil {
		return ProbeResult{}, fmt.Errorf("probe task %s (exit %d): no result line in %s %s: %w", TaskID(taskARN), code, group, stream, err)
	}
	if (code == 0) != r.OK {
		return r, fmt.Errorf("probe task %s exited %d but logged ok=%v", TaskID(taskARN), code, r.OK)
	}
	return r, nil
}

// loopTarget is how a service's rolling deployment is watched: from the
// test process when a listener reaches it from the internet, else from a
// probe task of a caller inside the VPC.
func loopTarget(checks []PathCheck, service string) (PathCheck, bool) {
	var inside *PathCheck
	for i, c := range checks {
		if c.Target != service || c.Refused {
			continue
		}
		if c.From == FromTestProcess {
			return c, true
		}
		if inside == nil {
			inside = &checks[i]
		}
	}
	if inside == nil {
		return PathCheck{}, false
	}
	return *inside, true
}

// rollOut forces a new deployment of every service of the group at once,
// keeps a client loop connecting to each, and measures.
func (gr *group) rollOut(t *testing.T, ctx context.Context, fingerprints []string) []ServiceMeasurement {
	var mu sync.Mutex
	var measured []ServiceMeasurement
	var wg sync.WaitGroup
	for _, d := range gr.stacks {
		checks, err := PlanPaths(d.template)
		if err != nil {
			t.Fatal(err)
		}
		for logical := range d.services {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m, err := gr.rollOutOne(ctx, d, logical, checks, fingerprints)
				if err != nil {
					t.Errorf("%s/%s: %v", d.id, logical, err)
					return
				}
				t.Log(m.Compare())
				mu.Lock()
				measured = append(measured, m)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	return measured
}

func (gr *group) rollOutOne(ctx context.Context, d *deployed, logical string, checks []PathCheck, fingerprints []string) (ServiceMeasurement, error) {
	svc := d.services[logical]
	m := ServiceMeasurement{Stack: d.id, Tasks: int(svc.RunningCount), Creation: d.created[logical]}
	var err error
	if m.Service, m.Estimate, err = ModelFor(d.template, logical, m.Tasks); err != nil {
		return m, err
	}
	target, watched := loopTarget(checks, logical)
	if !watched {
		return m, fmt.Errorf("no path reaches the service to watch its deployment")
	}
	addr, err := d.address(target)
	if err != nil {
		return m, err
	}
	oldTasks, err := gr.aws.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: svc.ClusterArn, ServiceName: svc.ServiceName})
	if err != nil {
		return m, err
	}

	// The client loop runs from before the deployment to after it.
	done := make(chan struct{})
	loopDone := make(chan LoopResult, 1)
	var probeTask string
	if target.From == FromTestProcess {
		dialer := Dialer{Timeout: 10 * time.Second}
		if target.MutualTLS {
			dialer.ClientCert = &gr.cert.Client
		}
		go func() {
			loopDone <- Loop(ctx, *loopEvery, int(loopBound / *loopEvery), done, func(ctx context.Context) Observation { return dialer.Observe(ctx, addr) }, fingerprints...)
		}()
	} else {
		var env map[string]string
		if target.MutualTLS {
			env = map[string]string{"PROBE_CLIENT_CERT": gr.cert.ClientPEM, "PROBE_CLIENT_KEY": gr.cert.ClientKeyPEM}
		}
		if probeTask, err = gr.startProbe(ctx, d, target.Caller, ProbeCommand(addr, "", fingerprints, loopBound, *loopEvery), env); err != nil {
			return m, err
		}
		if err := gr.waitRunning(ctx, svc.ClusterArn, probeTask); err != nil {
			return m, err
		}
	}
	sampleCtx, stopSampling := context.WithCancel(ctx)
	samples := make(chan []HealthSample, 1)
	go func() { samples <- gr.sample(sampleCtx, svc) }()

	deployErr := gr.forceDeployment(ctx, svc, &m)
	time.Sleep(30 * time.Second) // connections after the end count too
	close(done)
	stopSampling()
	timelines := Timelines(<-samples)

	var lastAnswers map[string]time.Time
	if target.From == FromTestProcess {
		loop := <-loopDone
		m.Connections, m.Failed = len(loop.Attempts), loop.Failed()
		lastAnswers = loop.LastAnswers()
		if loop.Failed() > 0 {
			deployErr = joinErr(deployErr, fmt.Errorf("client loop to %s: %s", addr, loop.Summary()))
		}
	} else {
		if _, err := gr.aws.ecs.StopTask(ctx, &ecs.StopTaskInput{Cluster: svc.ClusterArn, Task: aws.String(probeTask), Reason: aws.String("rolling deployment complete")}); err != nil {
			return m, joinErr(deployErr, err)
		}
		r, err := gr.probeResult(ctx, d, target.Caller, probeTask, probeTimeout)
		if err != nil {
			return m, joinErr(deployErr, err)
		}
		m.Connections, m.Failed = r.Attempts, r.Failures
		if err := r.Check(fingerprints...); err != nil {
			deployErr = joinErr(deployErr, fmt.Errorf("in-VPC client loop: %w", err))
		}
	}
	if deployErr != nil {
		return m, deployErr
	}
	tasks, err := gr.targetTasks(ctx, svc, oldTasks.TaskArns)
	if err != nil {
		return m, err
	}
	m.Rollout = MeasureRollout(timelines, tasks, lastAnswers)
	return m, nil
}

func joinErr(a, b error) error {
	if a == nil {
		return b
	}
	return fmt.Errorf("%w; %w", a, b)
}

// forceDeployment starts a new deployment of the service and waits until
// ECS reports it completed (or failed).
func (gr *group) forceDeployment(ctx context.Context, svc ecstypes.Service, m *ServiceMeasurement) error {
	out, err := gr.aws.ecs.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: svc.ClusterArn, Service: svc.ServiceName, ForceNewDeployment: true})
	if err != nil {
		return err
	}
	if out.Service == nil {
		return fmt.Errorf("UpdateService returned no service")
	}
	id, err := PrimaryDeployment(*out.Service)
	if err != nil {
		return err
	}
	return wait(ctx, deploymentTimeout, poll, func() (bool, error) {
		out, err := gr.aws.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: svc.ClusterArn, Services: []string{aws.ToString(svc.ServiceArn)}})
		if err != nil || len(out.Services) != 1 {
			return false, err
		}
		done, took, err := DeploymentOutcome(out.Services[0], id)
		if m != nil {
			m.Deployment = took
		}
		return done, err
	})
}

func (gr *group) waitRunning(ctx context.Context, cluster *string, task string) error {
	return wait(ctx, probeTimeout, poll, func() (bool, error) {
		out, err := gr.aws.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: cluster, Tasks: []string{task}})
		if err != nil || len(out.Tasks) != 1 {
			return false, err
		}
		switch aws.ToString(out.Tasks[0].LastStatus) {
		case "RUNNING":
			return true, nil
		case "STOPPED":
			_, err := ProbeExit(out.Tasks[0])
			return true, fmt.Errorf("the in-VPC client loop stopped before the deployment: %v", err)
		}
		return false, nil
	})
}

// sample polls the health of the service's target groups until ctx ends.
func (gr *group) sample(ctx context.Context, svc ecstypes.Service) []HealthSample {
	var out []HealthSample
	for {
		for _, lb := range svc.LoadBalancers {
			h, err := gr.aws.elb.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: lb.TargetGroupArn})
			if err == nil {
				out = append(out, HealthSample{At: time.Now(), Targets: h.TargetHealthDescriptions})
			}
		}
		select {
		case <-ctx.Done():
			return out
		case <-time.After(healthPoll):
		}
	}
}

// targetTasks maps the service's targets, old and new, to task IDs.
func (gr *group) targetTasks(ctx context.Context, svc ecstypes.Service, old []string) (map[string]string, error) {
	now, err := gr.aws.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: svc.ClusterArn, ServiceName: svc.ServiceName})
	if err != nil {
		return nil, err
	}
	arns := append(old, now.TaskArns...)
	var tasks []ecstypes.Task
	for i := 0; i < len(arns); i += 100 {
		out, err := gr.aws.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: svc.ClusterArn, Tasks: arns[i:min(i+100, len(arns))]})
		if err != nil {
			return nil, err
		}
		tasks = append(tasks, out.Tasks...)
	}
	instances := map[string]string{}
	var containerInstances []string
	for _, task := range tasks {
		if arn := aws.ToString(task.ContainerInstanceArn); arn != "" {
			containerInstances = append(containerInstances, arn)
		}
	}
	if len(containerInstances) > 0 {
		out, err := gr.aws.ecs.DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesInput{Cluster: svc.ClusterArn, ContainerInstances: containerInstances})
		if err != nil {
			return nil, err
		}
		for _, ci := range out.ContainerInstances {
			instances[aws.ToString(ci.ContainerInstanceArn)] = aws.ToString(ci.Ec2InstanceId)
		}
	}
	port := int32(0)
	if len(svc.LoadBalancers) > 0 {
		port = aws.ToInt32(svc.LoadBalancers[0].ContainerPort)
	}
	return TargetTasks(tasks, port, instances), nil
}

// rotate puts a new certificate in the secret, redeploys every service of
// the group, and checks every path again: only the new certificate may be
// served.
func (gr *group) rotate(t *testing.T, ctx context.Context) {
	next, err := GenerateCertificate(ctx, gr.root, t.TempDir(), gr.run.SecretName(gr.Name))
	if err != nil {
		t.Fatal(err)
	}
	if next.Fingerprint == gr.cert.Fingerprint {
		t.Fatal("-gen-cert made the same certificate twice")
	}
	if _, err := gr.aws.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(gr.secretARN), SecretString: aws.String(next.Secret)}); err != nil {
		t.Fatalf("put the new certificate: %v", err)
	}
	gr.cert = next
	var wg sync.WaitGroup
	for _, d := range gr.stacks {
		for logical, svc := range d.services {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := gr.forceDeployment(ctx, svc, nil); err != nil {
					t.Errorf("%s/%s: deployment with the new certificate: %v", d.id, logical, err)
				}
			}()
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	gr.checkPaths(t, ctx, []string{next.Fingerprint})
}
