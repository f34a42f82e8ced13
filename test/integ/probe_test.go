package integ

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

const recordedFingerprint = "64707294e569655eaefbbe60a37df136919c930bc4176adfd027b5b508f43889"

func logMessages(t *testing.T, path string) []string {
	var out []string
	for _, e := range fixture[cloudwatchlogs.GetLogEventsOutput](t, path).Events {
		out = append(out, aws.ToString(e.Message))
	}
	return out
}

// The probe lines are the example server's own output, recorded.
func TestProbeLogOfAPassingProbe(t *testing.T) {
	r, err := ParseProbeLog(logMessages(t, "logs/get-log-events-probe-passed.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Check(recordedFingerprint); err != nil {
		t.Errorf("check: %v", err)
	}
	if r.ServerName != "billing.svc.passthrough.example" || r.TLSVersion != "TLS 1.3" || !reflect.DeepEqual(r.Tasks, []string{"vm"}) || r.Attempts != 1 {
		t.Errorf("parsed %+v", r)
	}
	// A line that passed for another certificate is not a pass for this
	// one: the suite's own fingerprint must be what the probe expected.
	if err := r.Check(strings.Repeat("ab", 32)); err == nil || !strings.Contains(err.Error(), "wrong command line") {
		t.Errorf("check against another fingerprint: %v", err)
	}
}

func TestProbeLogOfAFailingProbe(t *testing.T) {
	r, err := ParseProbeLog(logMessages(t, "logs/get-log-events-probe-failed.json"))
	if err != nil {
		t.Fatal(err)
	}
	err = r.Check(strings.Repeat("ab", 32))
	for _, want := range []string{
		"127.0.0.1:18443: 1 of 1 attempts failed, first: served certificate",
		`127.0.0.1:18443 served "CN=orders.svc.passthrough.example" with SHA-256 ` + recordedFingerprint,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want it to contain %q", err, want)
		}
	}
}

func TestProbeLogWithoutAResultLine(t *testing.T) {
	_, err := ParseProbeLog([]string{"exec /tlsserver: exec format error", `{"msg":"listening"}`})
	if err == nil || err.Error() != `no "probe result" line among the task's 2 log messages` {
		t.Errorf("error %v", err)
	}
	if err := (ProbeResult{}).Check(recordedFingerprint); err == nil {
		t.Error("a zero result passed")
	}
}

func TestProbeCommand(t *testing.T) {
	got := ProbeCommand("billing.svc.passthrough.example:443", "", []string{"aa", "bb"}, 0, 0)
	if want := []string{"-probe", "billing.svc.passthrough.example:443", "-fingerprint", "aa,bb"}; !reflect.DeepEqual(got, want) {
		t.Errorf("one attempt: %q", got)
	}
	got = ProbeCommand("lb:8443", "lb.internal.passthrough.example", []string{"aa"}, 10*time.Minute, time.Second)
	if want := []string{"-probe", "lb:8443", "-fingerprint", "aa", "-server-name", "lb.internal.passthrough.example", "-probe-for", "10m0s", "-probe-every", "1s"}; !reflect.DeepEqual(got, want) {
		t.Errorf("loop: %q", got)
	}
}

// A probe runs as the calling service: its task definition, cluster,
// subnets and security groups, with the command replaced.
func TestProbeTaskRunsAsTheCaller(t *testing.T) {
	svc := fixture[ecs.DescribeServicesOutput](t, "ecs/describe-services-orders-rolling.json").Services[0]
	td := fixture[ecs.DescribeTaskDefinitionOutput](t, "ecs/describe-task-definition-orders.json").TaskDefinition
	cmd := ProbeCommand("billing.svc.passthrough.example:443", "", []string{recordedFingerprint}, 0, 0)
	in, err := ProbeTask(svc, td, cmd, map[string]string{"PROBE_CLIENT_KEY": "k", "PROBE_CLIENT_CERT": "c"}, ownRun)
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(in.Cluster) != aws.ToString(svc.ClusterArn) || aws.ToString(in.TaskDefinition) != aws.ToString(svc.TaskDefinition) {
		t.Errorf("cluster %s, task definition %s", aws.ToString(in.Cluster), aws.ToString(in.TaskDefinition))
	}
	if in.LaunchType != ecstypes.LaunchTypeFargate || aws.ToString(in.PlatformVersion) != "LATEST" || in.CapacityProviderStrategy != nil {
		t.Errorf("placement %s %s %v", in.LaunchType, aws.ToString(in.PlatformVersion), in.CapacityProviderStrategy)
	}
	vpc := in.NetworkConfiguration.AwsvpcConfiguration
	if !reflect.DeepEqual(vpc.SecurityGroups, []string{"sg-0123456789abcdef0"}) || len(vpc.Subnets) != 2 || vpc.AssignPublicIp != ecstypes.AssignPublicIpDisabled {
		t.Errorf("network %+v, want the service's", vpc)
	}
	o := in.Overrides.ContainerOverrides[0]
	if aws.ToString(o.Name) != "app" || !reflect.DeepEqual(o.Command, cmd) {
		t.Errorf("override %+v", o)
	}
	if len(o.Environment) != 2 || aws.ToString(o.Environment[0].Name) != "PROBE_CLIENT_CERT" {
		t.Errorf("environment %+v, want both variables, sorted", o.Environment)
	}
	if aws.ToString(in.StartedBy) != "integ-"+ownRun || aws.ToString(in.Tags[0].Key) != TagKey || aws.ToString(in.Tags[0].Value) != ownRun {
		t.Errorf("startedBy %s, tags %+v: the clean-up finds probe tasks by them", aws.ToString(in.StartedBy), in.Tags)
	}
}

// On EC2 the probe uses the service's capacity provider, so it lands on
// the cluster's instances and leaves through their security group; a
// Fargate Spot strategy becomes plain Fargate, which no interruption
// stops half-way.
func TestProbeTaskPlacement(t *testing.T) {
	td := fixture[ecs.DescribeTaskDefinitionOutput](t, "ecs/describe-task-definition-orders.json").TaskDefinition
	services := fixture[ecs.DescribeServicesOutput](t, "ecs/describe-services-callers.json").Services
	billing, err := ProbeTask(services[0], td, nil, nil, ownRun)
	if err != nil {
		t.Fatal(err)
	}
	if len(billing.CapacityProviderStrategy) != 1 || !strings.Contains(aws.ToString(billing.CapacityProviderStrategy[0].CapacityProvider), "BillingClusterCapacityProvider") ||
		billing.LaunchType != "" || billing.NetworkConfiguration != nil {
		t.Errorf("EC2: strategy %+v, launch type %q, network %+v", billing.CapacityProviderStrategy, billing.LaunchType, billing.NetworkConfiguration)
	}
	admin, err := ProbeTask(services[1], td, nil, nil, ownRun)
	if err != nil {
		t.Fatal(err)
	}
	if admin.LaunchType != ecstypes.LaunchTypeFargate || admin.CapacityProviderStrategy != nil {
		t.Errorf("Fargate Spot: launch type %q, strategy %+v", admin.LaunchType, admin.CapacityProviderStrategy)
	}
}

func TestProbeLogStreamIsPrefixContainerTask(t *testing.T) {
	td := fixture[ecs.DescribeTaskDefinitionOutput](t, "ecs/describe-task-definition-orders.json").TaskDefinition
	task := fixture[ecs.DescribeTasksOutput](t, "ecs/describe-tasks-probes-stopped.json").Tasks[0]
	group, stream, err := ProbeLogStream(td, aws.ToString(task.TaskArn))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(group, "-OrdersLogs63C9E25A-As7dF8gH9jKl") || stream != "app/app/4f9e8d7c6b5a49382716a5b4c3d2e1f0" {
		t.Errorf("group %s, stream %s", group, stream)
	}
	td.ContainerDefinitions[0].LogConfiguration.LogDriver = ecstypes.LogDriverFluentd
	if _, _, err := ProbeLogStream(td, "x"); err == nil || err.Error() != "container app does not log with awslogs" {
		t.Errorf("fluentd: %v", err)
	}
	td.ContainerDefinitions = append(td.ContainerDefinitions, td.ContainerDefinitions[0])
	if _, _, err := ProbeLogStream(td, "x"); err == nil || !strings.Contains(err.Error(), "has 2 essential containers") {
		t.Errorf("two containers: %v", err)
	}
}

func TestProbeExit(t *testing.T) {
	tasks := fixture[ecs.DescribeTasksOutput](t, "ecs/describe-tasks-probes-stopped.json").Tasks
	if code, err := ProbeExit(tasks[0]); code != 0 || err != nil {
		t.Errorf("exited probe: %d, %v", code, err)
	}
	if _, err := ProbeExit(tasks[1]); err == nil || !strings.HasPrefix(err.Error(), "container app: CannotPullContainerError") {
		t.Errorf("task that never started: %v", err)
	}
	if _, err := ProbeExit(tasks[2]); err == nil || !strings.HasSuffix(err.Error(), "is RUNNING, not stopped") {
		t.Errorf("running task: %v", err)
	}
}
