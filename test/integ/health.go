package integ

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// HealthSample is one DescribeTargetHealth answer for a target group and
// when it was taken. The suite polls every few seconds while a service is
// created and while it rolls out; the timelines below are read from the
// samples, so their precision is the polling interval.
type HealthSample struct {
	At      time.Time
	Targets []elbtypes.TargetHealthDescription
}

// Timeline is what the samples showed of one target (ID and port). Zero
// times were not seen.
type Timeline struct {
	Target string
	// Registered is when the target first appeared, in any state: a
	// target is listed from the moment it is registered (state "initial",
	// reason Elb.RegistrationInProgress, until the first health checks
	// pass; Elastic Load Balancing API reference, TargetHealth).
	Registered time.Time
	Healthy    time.Time // first seen healthy
	Draining   time.Time // first seen draining (deregistration started)
	Gone       time.Time // first sample without it, after it was seen
}

// TargetKey names a target the way target groups do: ID and port.
func TargetKey(t *elbtypes.TargetDescription) string {
	if t == nil {
		return ""
	}
	key := aws.ToString(t.Id)
	if t.Port != nil {
		key += ":" + strconv.Itoa(int(*t.Port))
	}
	return key
}

// Timelines reads the samples, in any order, into one timeline per target.
func Timelines(samples []HealthSample) []*Timeline {
	samples = slices.Clone(samples)
	slices.SortFunc(samples, func(a, b HealthSample) int { return a.At.Compare(b.At) })
	byKey := map[string]*Timeline{}
	for _, s := range samples {
		present := map[string]bool{}
		for _, d := range s.Targets {
			key := TargetKey(d.Target)
			if key == "" || d.TargetHealth == nil {
				continue
			}
			present[key] = true
			t := byKey[key]
			if t == nil {
				t = &Timeline{Target: key, Registered: s.At}
				byKey[key] = t
			}
			switch d.TargetHealth.State {
			case elbtypes.TargetHealthStateEnumHealthy:
				if t.Healthy.IsZero() {
					t.Healthy = s.At
				}
			case elbtypes.TargetHealthStateEnumDraining, elbtypes.TargetHealthStateEnumUnhealthyDraining:
				if t.Draining.IsZero() {
					t.Draining = s.At
				}
			}
		}
		for key, t := range byKey {
			if !present[key] && t.Gone.IsZero() {
				t.Gone = s.At
			}
		}
	}
	out := make([]*Timeline, 0, len(byKey))
	for _, t := range byKey {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b *Timeline) int {
		if c := a.Registered.Compare(b.Registered); c != 0 {
			return c
		}
		return strings.Compare(a.Target, b.Target)
	})
	return out
}

// Creation is what a service's creation showed: from the service's
// creation to its first registered and its first healthy target, and the
// longest registration-to-healthy of the targets that became healthy.
type Creation struct {
	TaskStart, FirstHealthy, Registration time.Duration
}

// clockSkew is how far the test machine's clock may be off AWS's.
const clockSkew = 10 * time.Second

// MeasureCreation reads timelines of the samples taken while the service
// was created at created.
func MeasureCreation(created time.Time, timelines []*Timeline) (Creation, error) {
	var c Creation
	var first, firstHealthy time.Time
	for _, t := range timelines {
		if first.IsZero() || t.Registered.Before(first) {
			first = t.Registered
		}
		if t.Healthy.IsZero() {
			continue
		}
		if firstHealthy.IsZero() || t.Healthy.Before(firstHealthy) {
			firstHealthy = t.Healthy
		}
		c.Registration = max(c.Registration, t.Healthy.Sub(t.Registered))
	}
	if firstHealthy.IsZero() {
		return c, fmt.Errorf("no target became healthy among %d seen", len(timelines))
	}
	// The samples carry the test machine's clock, the creation time ECS's:
	// a few seconds of skew are allowed for, not a target older than the
	// service.
	if first.Before(created.Add(-clockSkew)) {
		return c, fmt.Errorf("a target was registered at %s, before the service was created at %s: samples of another service?", first.Format(time.RFC3339), created.Format(time.RFC3339))
	}
	c.TaskStart, c.FirstHealthy = max(first.Sub(created), 0), max(firstHealthy.Sub(created), 0)
	return c, nil
}

// AllHealthy checks that a target group has at least want targets and
// every one of them is healthy.
func AllHealthy(targets []elbtypes.TargetHealthDescription, want int) error {
	var bad []string
	for _, d := range targets {
		if d.TargetHealth == nil || d.TargetHealth.State != elbtypes.TargetHealthStateEnumHealthy {
			state, reason := "unknown", ""
			if d.TargetHealth != nil {
				state, reason = string(d.TargetHealth.State), string(d.TargetHealth.Reason)
			}
			bad = append(bad, fmt.Sprintf("%s %s %s", TargetKey(d.Target), state, reason))
		}
	}
	switch {
	case len(bad) > 0:
		return fmt.Errorf("targets not healthy: %s", strings.Join(bad, ", "))
	case len(targets) < want:
		return fmt.Errorf("%d healthy targets, want at least %d", len(targets), want)
	}
	return nil
}

// TargetTasks maps the targets ECS registered for tasks to the tasks' IDs:
// an ip target (awsvpc, Fargate) is the task's private IPv4 address and
// container port; an instance target (EC2 bridge mode) is the container
// instance's EC2 instance ID and the task's host port. instances maps
// container instance ARNs to EC2 instance IDs (DescribeContainerInstances).
func TargetTasks(tasks []ecstypes.Task, containerPort int32, instances map[string]string) map[string]string {
	out := map[string]string{}
	for _, task := range tasks {
		id := TaskID(aws.ToString(task.TaskArn))
		for _, c := range task.Containers {
			for _, ni := range c.NetworkInterfaces {
				if ip := aws.ToString(ni.PrivateIpv4Address); ip != "" {
					out[ip+":"+strconv.Itoa(int(containerPort))] = id
				}
			}
			instance := instances[aws.ToString(task.ContainerInstanceArn)]
			for _, b := range c.NetworkBindings {
				if instance != "" && aws.ToInt32(b.ContainerPort) == containerPort && b.HostPort != nil {
					out[instance+":"+strconv.Itoa(int(*b.HostPort))] = id
				}
			}
		}
	}
	return out
}

// Rollout is what a rolling deployment showed of its targets.
type Rollout struct {
	// Draining is the longest a target stayed draining: the
	// deregistration delay as the load balancer applied it.
	Draining time.Duration
	// DrainWindow is the longest time after a target started draining at
	// which the client loop still had a connection answered by its task;
	// zero when no task answered after its target started draining.
	DrainWindow time.Duration
}

// MeasureRollout reads the timelines of a rollout, the tasks behind the
// targets and when the client loop last heard from each task.
func MeasureRollout(timelines []*Timeline, targetTasks map[string]string, lastAnswers map[string]time.Time) Rollout {
	var r Rollout
	for _, t := range timelines {
		if t.Draining.IsZero() {
			continue
		}
		if !t.Gone.IsZero() {
			r.Draining = max(r.Draining, t.Gone.Sub(t.Draining))
		}
		if last, ok := lastAnswers[targetTasks[t.Target]]; ok && last.After(t.Draining) {
			r.DrainWindow = max(r.DrainWindow, last.Sub(t.Draining))
		}
	}
	return r
}
