package rollout

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/passthrough-cdk/passthrough/internal/cfn"
)

// Service is one AWS::ECS::Service of a template and its rollout settings.
type Service struct {
	// Name is the logical ID without the 8 hex digits CDK appends to it
	// ("ApiServiceD5B4A50A" is "ApiService").
	Name     string
	Settings Settings
	// Count says where Settings.DesiredCount comes from.
	Count Count
}

// CountSource is where FromTemplate took a service's task count N from.
type CountSource int

const (
	// FromDesiredCount: the service's DesiredCount.
	FromDesiredCount CountSource = iota + 1
	// FromMinCapacity: the service has no DesiredCount because Application
	// Auto Scaling owns the count; N is the MinCapacity of the
	// ScalableTarget that targets it, the fewest tasks a deployment can
	// find running.
	FromMinCapacity
	// FromECSDefault: the service has neither a DesiredCount nor a
	// ScalableTarget; N is 1, what CloudFormation creates the service with.
	// An update keeps the running count, which a template cannot tell.
	FromECSDefault
)

// Count is where a service's task count comes from and, when Application
// Auto Scaling owns it, the range it may take.
type Count struct {
	Source CountSource
	// ScalableTarget is the logical ID of the
	// AWS::ApplicationAutoScaling::ScalableTarget with ScalableDimension
	// ecs:service:DesiredCount whose ResourceId holds
	// {"Fn::GetAtt": [service, "Name"]}, or "" when none does.
	ScalableTarget string
	// MinCapacity and MaxCapacity are the ScalableTarget's; 0 without one.
	MinCapacity, MaxCapacity int
}

// Range returns the fewest and the most tasks a deployment of the service
// may find running: N alone, or with a ScalableTarget every count from its
// MinCapacity to its MaxCapacity (and N, if DesiredCount lies outside).
func (s Service) Range() (lo, hi int) {
	n := s.Settings.DesiredCount
	if s.Count.ScalableTarget == "" {
		return n, n
	}
	return min(n, s.Count.MinCapacity), max(n, s.Count.MaxCapacity)
}

// Defaults that apply where a template leaves a property out, each the
// documented default of the service that reads it.
const (
	// ecsDefaultStopTimeout: a container without StopTimeout gets "a default
	// 30-second timeout, after which the SIGKILL value is sent" (ECS StopTask
	// API reference; on EC2 the agent's ECS_CONTAINER_STOP_TIMEOUT, 30 s).
	ecsDefaultStopTimeout = 30
	// ECS DeploymentConfiguration of a REPLICA service: minimumHealthyPercent
	// 100, maximumPercent 200.
	ecsDefaultMinHealthyPercent = 100
	ecsDefaultMaxPercent        = 200
	// CloudFormation AWS::ECS::Service without DesiredCount and without a
	// ScalableTarget: 1 when the service is created (an update keeps the
	// current count, which a template cannot tell; aws/aws-cdk#13130
	// describes the behaviour).
	ecsDefaultDesiredCount = 1
	// ECS healthCheckGracePeriodSeconds: 0 when not specified.
	ecsDefaultGracePeriod = 0
	// Elastic Load Balancing CreateTargetGroup, protocol TCP: interval 30 s,
	// healthy threshold 5, unhealthy threshold 2; target group attribute
	// deregistration_delay.timeout_seconds: 300 s.
	elbDefaultInterval           = 30
	elbDefaultHealthyThreshold   = 5
	elbDefaultUnhealthyThreshold = 2
	elbDefaultDeregistration     = 300
)

const (
	deregistrationKey = "deregistration_delay.timeout_seconds"
	// ecsCountDimension is the ScalableDimension of a service's task count.
	ecsCountDimension = "ecs:service:DesiredCount"
)

// FromTemplate reads the rollout settings of every AWS::ECS::Service in a
// synthesized template (as decoded by encoding/json), sorted by logical ID.
// A service must reach its target group through its first LoadBalancers
// entry and its task definition through a {"Ref": ...} to a resource of the
// template, and every setting it reads must be a literal: a value that is
// only known at deploy time (a parameter, an import) is an error, not a
// guess.
//
// The task count N is the service's DesiredCount. A service without one
// whose count Application Auto Scaling owns takes N from the MinCapacity of
// the ScalableTarget (ScalableDimension ecs:service:DesiredCount) whose
// ResourceId holds {"Fn::GetAtt": [the service's logical ID, "Name"]}, as
// CDK's autoScaleTaskCount synthesizes it; only when neither exists is N
// ECS's creation default of 1. [Service.Count] says which applied.
func FromTemplate(template map[string]any) ([]Service, error) {
	t, err := cfn.New(template)
	if err != nil {
		return nil, err
	}
	targets := scalableTargets(t)
	var services []Service
	var errs []error
	for _, r := range t.OfType(cfn.TypeService) {
		s, err := readService(t, r, targets[r.ID])
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.ID, err))
			continue
		}
		services = append(services, s)
	}
	return services, errors.Join(errs...)
}

// scalableTargets maps the logical ID of each AWS::ECS::Service to the
// ScalableTargets of its task count, sorted: those of dimension
// ecs:service:DesiredCount whose ResourceId takes the service's Name.
func scalableTargets(t *cfn.Template) map[string][]string {
	targets := map[string][]string{}
	for _, st := range t.OfType(cfn.TypeScalableTarget) {
		if st.Props["ScalableDimension"] != ecsCountDimension {
			continue
		}
		for _, ref := range cfn.Refs(st.Props["ResourceId"]) {
			if ref.Attr == "Name" && t.Resource(ref.ID, cfn.TypeService) != nil {
				targets[ref.ID] = append(targets[ref.ID], st.ID)
			}
		}
	}
	return targets
}

// taskCount reads N: the service's DesiredCount, else the MinCapacity of
// the one ScalableTarget of its count, else ECS's default.
func taskCount(r *reader, t *cfn.Template, props map[string]any, targets []string) (int, Count) {
	var c Count
	switch len(targets) {
	case 0:
	case 1:
		st := t.Lookup(targets[0]).Props
		c.ScalableTarget = targets[0]
		c.MinCapacity = r.int(st, "MinCapacity", -1)
		c.MaxCapacity = r.int(st, "MaxCapacity", -1)
		switch {
		case r.err != nil:
			r.err = fmt.Errorf("ScalableTarget %s: %w", targets[0], r.err)
		case c.MinCapacity < 1 || c.MaxCapacity < c.MinCapacity:
			r.err = fmt.Errorf("ScalableTarget %s: MinCapacity %d, MaxCapacity %d: the model needs 1 ≤ MinCapacity ≤ MaxCapacity (a left-out capacity reads as -1)",
				targets[0], c.MinCapacity, c.MaxCapacity)
		}
	default:
		r.err = fmt.Errorf("ScalableTargets %s all scale the task count; Application Auto Scaling allows one", strings.Join(targets, ", "))
	}
	if r.err != nil {
		return 0, Count{}
	}
	if _, ok := props["DesiredCount"]; ok {
		c.Source = FromDesiredCount
		return r.int(props, "DesiredCount", 0), c
	}
	if c.ScalableTarget != "" {
		c.Source = FromMinCapacity
		return c.MinCapacity, c
	}
	c.Source = FromECSDefault
	return ecsDefaultDesiredCount, c
}

func readService(t *cfn.Template, svc *cfn.Resource, targets []string) (Service, error) {
	attachments := cfn.ServiceAttachments(svc)
	if len(attachments) == 0 {
		return Service{}, errors.New("LoadBalancers: none; the model needs the service's target group")
	}
	tg, err := referenced(t, attachments[0].TargetGroup, cfn.TypeTargetGroup, "LoadBalancers[0].TargetGroupArn")
	if err != nil {
		return Service{}, err
	}
	td, err := referenced(t, svc.Props["TaskDefinition"], cfn.TypeTaskDefinition, "TaskDefinition")
	if err != nil {
		return Service{}, err
	}

	r := reader{}
	n, count := taskCount(&r, t, svc.Props, targets)
	deployment := cfn.Object(svc.Props["DeploymentConfiguration"])
	s := Settings{
		DesiredCount:           n,
		HealthCheckGracePeriod: r.seconds(svc.Props, "HealthCheckGracePeriodSeconds", ecsDefaultGracePeriod),
		MinHealthyPercent:      r.int(deployment, "MinimumHealthyPercent", ecsDefaultMinHealthyPercent),
		MaxPercent:             r.int(deployment, "MaximumPercent", ecsDefaultMaxPercent),
		HealthCheckInterval:    r.seconds(tg.Props, "HealthCheckIntervalSeconds", elbDefaultInterval),
		HealthyThreshold:       r.int(tg.Props, "HealthyThresholdCount", elbDefaultHealthyThreshold),
		UnhealthyThreshold:     r.int(tg.Props, "UnhealthyThresholdCount", elbDefaultUnhealthyThreshold),
		DeregistrationDelay:    r.seconds(cfn.Attributes(tg), deregistrationKey, elbDefaultDeregistration),
	}
	if strategy, _ := cfn.Literal(deployment["Strategy"]); strategy == "BLUE_GREEN" {
		s.BlueGreen = true
		s.BakeTime = time.Duration(r.int(deployment, "BakeTimeInMinutes", 0)) * time.Minute
	}
	containers := cfn.List(td.Props["ContainerDefinitions"])
	if len(containers) == 0 {
		return Service{}, errors.New("TaskDefinition: no ContainerDefinitions")
	}
	for i, c := range containers {
		s.StopTimeout = max(s.StopTimeout, r.seconds(cfn.Object(c), "StopTimeout", ecsDefaultStopTimeout))
		if r.err != nil {
			r.err = fmt.Errorf("ContainerDefinitions[%d]: %w", i, r.err)
			break
		}
	}
	if r.err != nil {
		return Service{}, r.err
	}
	return Service{Name: cfn.ShortName(svc.ID), Settings: s, Count: count}, nil
}

// referenced follows {"Ref": id} to a resource of type want.
func referenced(t *cfn.Template, ref any, want, field string) (*cfn.Resource, error) {
	m := cfn.Object(ref)
	id, ok := m["Ref"].(string)
	if !ok || len(m) != 1 {
		return nil, fmt.Errorf("%s: %v is not a {\"Ref\": ...} to a resource of this template", field, ref)
	}
	r := t.Lookup(id)
	if r == nil {
		return nil, fmt.Errorf("%s: %s is not a resource of this template", field, id)
	}
	if r.Type != want {
		return nil, fmt.Errorf("%s: %s is a %s, not a %s", field, id, r.Type, want)
	}
	return r, nil
}

// reader reads whole numbers from decoded JSON and keeps the first error,
// so that a service's settings read as one expression.
type reader struct{ err error }

// int returns obj[key], or def when obj has no such key.
func (r *reader) int(obj map[string]any, key string, def int) int {
	if r.err != nil {
		return 0
	}
	v, ok := obj[key]
	if !ok {
		return def
	}
	if n, ok := cfn.Integer(v); ok {
		return n
	}
	switch v.(type) {
	case string:
		r.err = fmt.Errorf("%s: %q is not a whole number", key, v)
	case float64:
		r.err = fmt.Errorf("%s: %v is not a whole number", key, v)
	default:
		r.err = fmt.Errorf("%s: %v is not a literal number (a value known only at deploy time cannot be modelled)", key, v)
	}
	return 0
}

func (r *reader) seconds(obj map[string]any, key string, def int) time.Duration {
	return time.Duration(r.int(obj, key, def)) * time.Second
}
