package integ

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// ProbeResult is the line the example server's -probe mode logs
// (examples/tlsserver/probe.go; its TestProbeLogLineFields pins the keys).
type ProbeResult struct {
	Msg         string    `json:"msg"`
	Target      string    `json:"target"`
	ServerName  string    `json:"server_name"`
	OK          bool      `json:"ok"`
	Attempts    int       `json:"attempts"`
	Failures    int       `json:"failures"`
	Want        []string  `json:"want_sha256"`
	Served      []string  `json:"cert_sha256"`
	Subject     string    `json:"subject"`
	TLSVersion  string    `json:"tls_version"`
	Tasks       []string  `json:"tasks"`
	ClientCert  bool      `json:"client_cert"`
	ElapsedMS   int64     `json:"elapsed_ms"`
	NotAfter    time.Time `json:"not_after"`
	FirstError  string    `json:"first_error"`
	LastError   string    `json:"last_error"`
	Level       string    `json:"level"`
	Time        time.Time `json:"time"`
	probeLineOK bool
}

// probeMessage is the msg of the probe's result line.
const probeMessage = "probe result"

// ParseProbeLog finds the probe's result line among the messages of a
// task's log stream, which also hold anything else the container printed,
// and decodes it. A task writes one; if there are several, the last counts.
func ParseProbeLog(messages []string) (ProbeResult, error) {
	var found *ProbeResult
	for _, m := range messages {
		m = strings.TrimSpace(m)
		if !strings.HasPrefix(m, "{") || !strings.Contains(m, `"`+probeMessage+`"`) {
			continue
		}
		var r ProbeResult
		if err := json.Unmarshal([]byte(m), &r); err != nil {
			return ProbeResult{}, fmt.Errorf("probe line is not JSON: %w: %s", err, m)
		}
		if r.Msg != probeMessage {
			continue
		}
		r.probeLineOK = true
		found = &r
	}
	if found == nil {
		return ProbeResult{}, fmt.Errorf("no %q line among the task's %d log messages", probeMessage, len(messages))
	}
	return *found, nil
}

// Check is the assertion on a probe's line: every attempt passed, and the
// certificates it was served are among want. The line's own verdict is not
// trusted alone: its want_sha256 must be what the suite asked for.
func (r ProbeResult) Check(want ...string) error {
	if !r.probeLineOK {
		return errors.New("not a probe result line")
	}
	for _, w := range want {
		if !slices.Contains(r.Want, w) {
			return fmt.Errorf("the probe expected %v, not %s: wrong command line", r.Want, w)
		}
	}
	var errs []error
	if !r.OK || r.Failures > 0 {
		errs = append(errs, fmt.Errorf("%s: %d of %d attempts failed, first: %s", r.Target, r.Failures, r.Attempts, r.FirstError))
	}
	if r.Attempts == 0 {
		errs = append(errs, fmt.Errorf("%s: no attempt", r.Target))
	}
	for _, s := range r.Served {
		if !slices.Contains(want, s) {
			errs = append(errs, fmt.Errorf("%s served %q with SHA-256 %s, want %s", r.Target, r.Subject, s, strings.Join(want, " or ")))
		}
	}
	return errors.Join(errs...)
}

// ProbeCommand is the container command of a probe task; the image's
// entry point is the example server (/tlsserver). duration 0 makes one
// attempt; otherwise the probe keeps connecting for duration.
func ProbeCommand(address, serverName string, fingerprints []string, duration, every time.Duration) []string {
	cmd := []string{"-probe", address, "-fingerprint", strings.Join(fingerprints, ",")}
	if serverName != "" {
		cmd = append(cmd, "-server-name", serverName)
	}
	if duration > 0 {
		cmd = append(cmd, "-probe-for", duration.String(), "-probe-every", every.String())
	}
	return cmd
}

// ProbeTask builds the RunTask request of a probe: the calling service's
// task definition, placement and network configuration, so that the probe
// leaves through the caller's security groups, with the command replaced.
// env adds environment variables (a client certificate for mutual TLS).
//
// The task definition's container health check (-healthcheck) fails in a
// probe task, where no server listens; that does not stop it: "If a task is
// run manually, and not as part of a service, the task will continue its
// lifecycle regardless of its health status" (Amazon ECS API reference,
// HealthCheck).
func ProbeTask(svc ecstypes.Service, td *ecstypes.TaskDefinition, command []string, env map[string]string, run RunID) (*ecs.RunTaskInput, error) {
	if svc.ClusterArn == nil || svc.TaskDefinition == nil {
		return nil, fmt.Errorf("service %s: no cluster or task definition", aws.ToString(svc.ServiceName))
	}
	container, err := appContainer(td)
	if err != nil {
		return nil, err
	}
	override := ecstypes.ContainerOverride{Name: container.Name, Command: command}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		override.Environment = append(override.Environment, ecstypes.KeyValuePair{Name: aws.String(k), Value: aws.String(env[k])})
	}
	in := &ecs.RunTaskInput{
		Cluster:        svc.ClusterArn,
		TaskDefinition: svc.TaskDefinition,
		Count:          aws.Int32(1),
		StartedBy:      aws.String(run.StartedBy()),
		Overrides:      &ecstypes.TaskOverride{ContainerOverrides: []ecstypes.ContainerOverride{override}},
		// The service's tags are not the run's; the task is tagged like
		// everything else the suite creates.
		Tags:                 []ecstypes.Tag{{Key: aws.String(TagKey), Value: aws.String(string(run))}},
		NetworkConfiguration: svc.NetworkConfiguration,
		PlatformVersion:      svc.PlatformVersion,
	}
	// A service has either a launch type or a capacity provider strategy;
	// so has RunTask. Fargate Spot is left out: a probe must not be
	// interrupted, and capacity is not what it checks.
	switch {
	case len(svc.CapacityProviderStrategy) > 0 && svc.CapacityProviderStrategy[0].CapacityProvider != nil &&
		!strings.HasPrefix(aws.ToString(svc.CapacityProviderStrategy[0].CapacityProvider), "FARGATE"):
		in.CapacityProviderStrategy = []ecstypes.CapacityProviderStrategyItem{{CapacityProvider: svc.CapacityProviderStrategy[0].CapacityProvider, Weight: 1}}
	case len(svc.CapacityProviderStrategy) > 0:
		in.LaunchType = ecstypes.LaunchTypeFargate
	default:
		in.LaunchType = svc.LaunchType
	}
	return in, nil
}

// appContainer is the task definition's one essential container: the
// example server. The examples have exactly one.
func appContainer(td *ecstypes.TaskDefinition) (ecstypes.ContainerDefinition, error) {
	if td == nil {
		return ecstypes.ContainerDefinition{}, errors.New("no task definition")
	}
	var found []ecstypes.ContainerDefinition
	for _, c := range td.ContainerDefinitions {
		if c.Essential == nil || *c.Essential {
			found = append(found, c)
		}
	}
	if len(found) != 1 {
		return ecstypes.ContainerDefinition{}, fmt.Errorf("task definition %s has %d essential containers, want the example server alone",
			aws.ToString(td.TaskDefinitionArn), len(found))
	}
	return found[0], nil
}

// ProbeLogStream returns where a task's container logs: the awslogs log
// group and the stream "prefix/container/task ID", the name the awslogs
// driver gives a stream when awslogs-stream-prefix is set (Amazon ECS
// Developer Guide, "Using the awslogs log driver"; aws-cdk-lib's
// AwsLogDriverProps.streamPrefix documents the same format).
func ProbeLogStream(td *ecstypes.TaskDefinition, taskARN string) (group, stream string, err error) {
	c, err := appContainer(td)
	if err != nil {
		return "", "", err
	}
	if c.LogConfiguration == nil || c.LogConfiguration.LogDriver != ecstypes.LogDriverAwslogs {
		return "", "", fmt.Errorf("container %s does not log with awslogs", aws.ToString(c.Name))
	}
	group, prefix := c.LogConfiguration.Options["awslogs-group"], c.LogConfiguration.Options["awslogs-stream-prefix"]
	if group == "" || prefix == "" {
		return "", "", fmt.Errorf("container %s: awslogs without awslogs-group or awslogs-stream-prefix", aws.ToString(c.Name))
	}
	return group, prefix + "/" + aws.ToString(c.Name) + "/" + TaskID(taskARN), nil
}

// TaskID is the last part of a task ARN
// (arn:aws:ecs:REGION:ACCOUNT:task/CLUSTER/ID), what the example server
// reports as "task".
func TaskID(arn string) string { return arn[strings.LastIndex(arn, "/")+1:] }

// ProbeExit reads a stopped probe task: the example server's exit code, or
// why the task never ran it.
func ProbeExit(task ecstypes.Task) (int, error) {
	if aws.ToString(task.LastStatus) != "STOPPED" {
		return 0, fmt.Errorf("task %s is %s, not stopped", TaskID(aws.ToString(task.TaskArn)), aws.ToString(task.LastStatus))
	}
	for _, c := range task.Containers {
		if c.ExitCode != nil {
			return int(*c.ExitCode), nil
		}
		if c.Reason != nil {
			return 0, fmt.Errorf("container %s: %s (task stopped: %s)", aws.ToString(c.Name), *c.Reason, aws.ToString(task.StoppedReason))
		}
	}
	return 0, fmt.Errorf("task %s stopped without an exit code: %s %s", TaskID(aws.ToString(task.TaskArn)), task.StopCode, aws.ToString(task.StoppedReason))
}
