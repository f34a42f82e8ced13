package integ

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/passthrough-cdk/passthrough/internal/rollout"
)

func samples(t *testing.T, path string) []HealthSample {
	recorded := fixture[[]struct {
		At                       time.Time
		TargetHealthDescriptions []elbtypes.TargetHealthDescription
	}](t, path)
	var out []HealthSample
	for _, r := range *recorded {
		out = append(out, HealthSample{At: r.At, Targets: r.TargetHealthDescriptions})
	}
	return out
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, "2026-01-02T"+s+"Z")
	if err != nil {
		panic(err)
	}
	return t
}

// Creating Orders: two targets registered, checked and healthy; the times
// from the service's creation are what docs/rollout.md puts beside the
// model's task start and registration delay.
func TestCreationTimesFromTargetHealth(t *testing.T) {
	s := samples(t, "elbv2/target-health-creation.json")
	// The samples' order does not matter.
	s[1], s[4] = s[4], s[1]
	timelines := Timelines(s)
	want := []*Timeline{
		{Target: "10.0.130.17:8443", Registered: at("11:59:35"), Healthy: at("12:01:45")},
		{Target: "10.0.137.201:8443", Registered: at("11:59:40"), Healthy: at("12:02:05")},
	}
	if !reflect.DeepEqual(timelines, want) {
		t.Fatalf("timelines %+v, want %+v", timelines, want)
	}
	created := fixture[ecs.DescribeServicesOutput](t, "ecs/describe-services-orders-rolling.json").Services[0].CreatedAt
	c, err := MeasureCreation(*created, timelines)
	if err != nil {
		t.Fatal(err)
	}
	if c.TaskStart != 82655*time.Millisecond || c.FirstHealthy != 212655*time.Millisecond || c.Registration != 145*time.Second {
		t.Errorf("creation %+v, want task start 82.655 s, first healthy 212.655 s, longest registration 145 s", c)
	}
	if _, err := MeasureCreation(at("12:00:00"), timelines); err == nil || !strings.Contains(err.Error(), "before the service was created") {
		t.Errorf("targets older than the service: %v", err)
	}
	// A few seconds of clock skew between the test machine and AWS.
	if c, err := MeasureCreation(at("11:59:40"), timelines); err != nil || c.TaskStart != 0 || c.FirstHealthy != 125*time.Second {
		t.Errorf("with 5 s of skew: %+v, %v", c, err)
	}
	early := samples(t, "elbv2/target-health-creation.json")[:4] // before the first healthy check
	if _, err := MeasureCreation(*created, Timelines(early)); err == nil || err.Error() != "no target became healthy among 2 seen" {
		t.Errorf("no healthy target: %v", err)
	}
}

// The rollout of Orders: the old targets drain about the deregistration
// delay, and the client loop's last answer from a draining task is the
// observed drain window.
func TestRolloutTimesFromTargetHealthAndTheClientLoop(t *testing.T) {
	timelines := Timelines(samples(t, "elbv2/target-health-rollout.json"))
	tasks := TargetTasks(fixture[ecs.DescribeTasksOutput](t, "ecs/describe-tasks-orders.json").Tasks, 8443, nil)
	if tasks["10.0.130.17:8443"] != "aaaaaaaaaaaa4aaaaaaaaaaaaaaaaaaa" || len(tasks) != 4 {
		t.Fatalf("targets to tasks %v", tasks)
	}
	last := map[string]time.Time{
		"aaaaaaaaaaaa4aaaaaaaaaaaaaaaaaaa": at("12:34:05"), // answered 55 s into its draining
		"bbbbbbbbbbbb4bbbbbbbbbbbbbbbbbbb": at("12:33:00"), // last answered before it drained
		"cccccccccccc4ccccccccccccccccccc": at("12:35:20"), // new task: never draining
	}
	r := MeasureRollout(timelines, tasks, last)
	if r.Draining != 125*time.Second || r.DrainWindow != 55*time.Second {
		t.Errorf("rollout %+v, want draining 125 s and drain window 55 s", r)
	}
	if r := MeasureRollout(timelines, tasks, nil); r.DrainWindow != 0 {
		t.Errorf("without answers the drain window is %s, want none", r.DrainWindow)
	}
}

// On EC2 a target is the instance and the task's dynamic host port.
func TestTargetTasksOnEC2(t *testing.T) {
	tasks := fixture[ecs.DescribeTasksOutput](t, "ecs/describe-tasks-billing-ec2.json").Tasks
	instances := map[string]string{*tasks[0].ContainerInstanceArn: "i-0123456789abcdef0"}
	got := TargetTasks(tasks, 8443, instances)
	if want := map[string]string{"i-0123456789abcdef0:49153": "eeeeeeeeeeee4eeeeeeeeeeeeeeeeeee"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestAllHealthy(t *testing.T) {
	s := samples(t, "elbv2/target-health-creation.json")
	if err := AllHealthy(s[5].Targets, 2); err != nil {
		t.Errorf("two healthy targets: %v", err)
	}
	if err := AllHealthy(s[5].Targets, 3); err == nil || err.Error() != "2 healthy targets, want at least 3" {
		t.Errorf("too few: %v", err)
	}
	if err := AllHealthy(s[4].Targets, 2); err == nil || err.Error() != "targets not healthy: 10.0.137.201:8443 initial Elb.InitialHealthChecking" {
		t.Errorf("one initial: %v", err)
	}
}

func TestDeploymentOutcome(t *testing.T) {
	const id = "ecs-svc/1111111111111111111"
	svc := func(path string) ecs.DescribeServicesOutput {
		return *fixture[ecs.DescribeServicesOutput](t, path)
	}
	rolling := svc("ecs/describe-services-orders-rolling.json").Services[0]
	if primary, err := PrimaryDeployment(rolling); primary != id || err != nil {
		t.Errorf("primary %s, %v", primary, err)
	}
	if done, _, err := DeploymentOutcome(rolling, id); done || err != nil {
		t.Errorf("in progress: done %v, %v", done, err)
	}
	done, took, err := DeploymentOutcome(svc("ecs/describe-services-orders-completed.json").Services[0], id)
	if !done || err != nil || took != 327500*time.Millisecond {
		t.Errorf("completed: %v %s %v, want 327.5 s", done, took, err)
	}
	_, _, err = DeploymentOutcome(svc("ecs/describe-services-orders-rolled-back.json").Services[0], id)
	if err == nil || err.Error() != "deployment "+id+" failed: ECS deployment circuit breaker: tasks failed to start." {
		t.Errorf("rolled back: %v", err)
	}
	if _, _, err := DeploymentOutcome(rolling, "ecs-svc/9"); err == nil || !strings.Contains(err.Error(), "no longer lists deployment ecs-svc/9") {
		t.Errorf("unknown deployment: %v", err)
	}
}

// The measurement is recorded beside the model's figure for the same
// settings, read from the deployed template by internal/rollout.
func TestMeasurementBesideTheModel(t *testing.T) {
	svc, est, err := ModelFor(golden(t, "PassthroughServiceToServiceFargate"), "OrdersServiceD066556E", 2)
	if err != nil {
		t.Fatal(err)
	}
	if svc.Name != "OrdersService" || est.Rollout != 310*time.Second {
		t.Fatalf("model %s %s, want OrdersService and the documented 310 s", svc.Name, est.Rollout)
	}
	// Four running tasks (auto scaling) still fit in one batch at 100/200 %.
	if _, four, _ := ModelFor(golden(t, "PassthroughServiceToServiceFargate"), "OrdersServiceD066556E", 4); four.Settings.DesiredCount != 4 {
		t.Errorf("running count not used: %+v", four.Settings)
	}
	if _, _, err := ModelFor(golden(t, "PassthroughServiceToServiceFargate"), "Nope", 0); err == nil {
		t.Error("an unknown service was modelled")
	}
	m := ServiceMeasurement{
		Stack: "PassthroughServiceToServiceFargate", Service: svc, Estimate: est, Tasks: 2,
		Creation:    Creation{TaskStart: 82655 * time.Millisecond, FirstHealthy: 212655 * time.Millisecond, Registration: 145 * time.Second},
		Rollout:     Rollout{Draining: 125 * time.Second, DrainWindow: 55 * time.Second},
		Deployment:  327500 * time.Millisecond,
		Connections: 300, Failed: 1,
	}
	want := rollout.MeasuredService{Stack: "PassthroughServiceToServiceFargate", Service: "OrdersService", Tasks: 2,
		TaskStart: 82.7, Registration: 145, HealthChecks: 10, FirstHealthy: 212.7, Draining: 125, DrainWindow: 55,
		Rollout: 327.5, ModelRollout: 310, Connections: 300, FailedConnections: 1}
	if got := m.Record(); got != want {
		t.Errorf("record\n%+v\nwant\n%+v", got, want)
	}
	if got := m.Compare(); !strings.HasPrefix(got, "PassthroughServiceToServiceFargate/OrdersService: rollout 5m28s measured, 5m10s modelled (1.06×)") {
		t.Errorf("comparison %q", got)
	}

	path := filepath.Join(t.TempDir(), "measurements.json")
	if err := WriteMeasurements(path, "it260102-1150-c0de", "eu-west-1", []ServiceMeasurement{m}); err != nil {
		t.Fatal(err)
	}
	file, err := rollout.ReadMeasurements(path)
	if err != nil {
		t.Fatal(err)
	}
	run := file.Runs[0]
	if run.Run != "it260102-1150-c0de" || run.Region != "eu-west-1" || !run.Date.Equal(at("11:50:00")) || run.Services[0] != want {
		t.Errorf("written run %+v", run)
	}
}
