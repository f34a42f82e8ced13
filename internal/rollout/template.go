package rollout

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Service is one AWS::ECS::Service of a template and its rollout settings.
type Service struct {
	// Name is the logical ID without the 8 hex digits CDK appends to it
	// ("ApiServiceD5B4A50A" is "ApiService").
	Name      string
	LogicalID string
	Settings  Settings
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
	typeService        = "AWS::ECS::Service"
	typeTaskDefinition = "AWS::ECS::TaskDefinition"
	typeTargetGroup    = "AWS::ElasticLoadBalancingV2::TargetGroup"
	typeScalableTarget = "AWS::ApplicationAutoScaling::ScalableTarget"
	deregistrationKey  = "deregistration_delay.timeout_seconds"
	// ecsCountDimension is the ScalableDimension of a service's task count.
	ecsCountDimension = "ecs:service:DesiredCount"
)

// cdkSuffix is the hash CDK appends to a construct path's logical ID.
var cdkSuffix = regexp.MustCompile(`^(.+?)[0-9A-F]{8}$`)

// FromTemplate reads the rollout settings of every AWS::ECS::Service in a
// synthesized template (as decoded by encoding/json), sorted by logical ID.
// A service must reach its target group through LoadBalancers[0] and its
// task definition through a {"Ref": ...} to a resource of the template, and
// every setting it reads must be a literal: a value that is only known at
// deploy time (a parameter, an import) is an error, not a guess.
//
// The task count N is the service's DesiredCount. A service without one
// whose count Application Auto Scaling owns takes N from the MinCapacity of
// the ScalableTarget (ScalableDimension ecs:service:DesiredCount) whose
// ResourceId holds {"Fn::GetAtt": [the service's logical ID, "Name"]}, as
// CDK's autoScaleTaskCount synthesizes it; only when neither exists is N
// ECS's creation default of 1. [Service.Count] says which applied.
func FromTemplate(template map[string]any) ([]Service, error) {
	resources, ok := template["Resources"].(map[string]any)
	if !ok {
		return nil, errors.New("template has no Resources object")
	}
	ids := make([]string, 0, len(resources))
	for id, r := range resources {
		if typeOf(r) == typeService {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	targets := scalableTargets(resources)
	var services []Service
	var errs []error
	for _, id := range ids {
		s, err := readService(resources, id, targets[id])
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", id, err))
			continue
		}
		services = append(services, s)
	}
	return services, errors.Join(errs...)
}

// scalableTargets maps the logical ID of each AWS::ECS::Service of
// resources to the ScalableTargets of its task count, sorted.
func scalableTargets(resources map[string]any) map[string][]string {
	targets := map[string][]string{}
	for id, r := range resources {
		if typeOf(r) != typeScalableTarget {
			continue
		}
		p := properties(r)
		if p["ScalableDimension"] != ecsCountDimension {
			continue
		}
		for _, svc := range nameAttributes(p["ResourceId"]) {
			if typeOf(resources[svc]) == typeService && !slices.Contains(targets[svc], id) {
				targets[svc] = append(targets[svc], id)
			}
		}
	}
	for _, ids := range targets {
		slices.Sort(ids)
	}
	return targets
}

// nameAttributes returns the logical IDs that v, a property value with
// intrinsic functions, takes the Name attribute of: {"Fn::GetAtt": [id,
// "Name"]} or {"Fn::GetAtt": "id.Name"}, at any depth (inside an Fn::Join,
// an Fn::Sub's variables, ...).
func nameAttributes(v any) []string {
	var ids []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if att, ok := v["Fn::GetAtt"]; ok && len(v) == 1 {
				switch att := att.(type) {
				case []any:
					if len(att) == 2 && att[1] == "Name" {
						if id, ok := att[0].(string); ok {
							ids = append(ids, id)
						}
					}
				case string:
					if id, ok := strings.CutSuffix(att, ".Name"); ok {
						ids = append(ids, id)
					}
				}
				return
			}
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(v)
	return ids
}

// taskCount reads N: the service's DesiredCount, else the MinCapacity of
// the one ScalableTarget of its count, else ECS's default.
func taskCount(r *reader, resources, props map[string]any, targets []string) (int, Count) {
	var c Count
	switch len(targets) {
	case 0:
	case 1:
		t := properties(resources[targets[0]])
		c.ScalableTarget = targets[0]
		c.MinCapacity = r.int(t, "MinCapacity", -1)
		c.MaxCapacity = r.int(t, "MaxCapacity", -1)
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

func readService(resources map[string]any, id string, targets []string) (Service, error) {
	props := properties(resources[id])
	lbs, _ := props["LoadBalancers"].([]any)
	if len(lbs) == 0 {
		return Service{}, errors.New("LoadBalancers: none; the model needs the service's target group")
	}
	lb, _ := lbs[0].(map[string]any)
	tgProps, err := referenced(resources, lb["TargetGroupArn"], typeTargetGroup, "LoadBalancers[0].TargetGroupArn")
	if err != nil {
		return Service{}, err
	}
	tdProps, err := referenced(resources, props["TaskDefinition"], typeTaskDefinition, "TaskDefinition")
	if err != nil {
		return Service{}, err
	}

	r := reader{}
	n, count := taskCount(&r, resources, props, targets)
	deployment, _ := props["DeploymentConfiguration"].(map[string]any)
	s := Settings{
		DesiredCount:           n,
		HealthCheckGracePeriod: r.seconds(props, "HealthCheckGracePeriodSeconds", ecsDefaultGracePeriod),
		MinHealthyPercent:      r.int(deployment, "MinimumHealthyPercent", ecsDefaultMinHealthyPercent),
		MaxPercent:             r.int(deployment, "MaximumPercent", ecsDefaultMaxPercent),
		HealthCheckInterval:    r.seconds(tgProps, "HealthCheckIntervalSeconds", elbDefaultInterval),
		HealthyThreshold:       r.int(tgProps, "HealthyThresholdCount", elbDefaultHealthyThreshold),
		UnhealthyThreshold:     r.int(tgProps, "UnhealthyThresholdCount", elbDefaultUnhealthyThreshold),
		DeregistrationDelay:    r.seconds(targetGroupAttributes(tgProps), deregistrationKey, elbDefaultDeregistration),
	}
	containers, _ := tdProps["ContainerDefinitions"].([]any)
	if len(containers) == 0 {
		return Service{}, errors.New("TaskDefinition: no ContainerDefinitions")
	}
	for i, c := range containers {
		cd, _ := c.(map[string]any)
		s.StopTimeout = max(s.StopTimeout, r.seconds(cd, "StopTimeout", ecsDefaultStopTimeout))
		if r.err != nil {
			r.err = fmt.Errorf("ContainerDefinitions[%d]: %w", i, r.err)
			break
		}
	}
	if r.err != nil {
		return Service{}, r.err
	}
	return Service{Name: serviceName(id), LogicalID: id, Settings: s, Count: count}, nil
}

// serviceName strips CDK's hash suffix from a logical ID.
func serviceName(id string) string {
	if m := cdkSuffix.FindStringSubmatch(id); m != nil {
		return m[1]
	}
	return id
}

func typeOf(resource any) string {
	r, _ := resource.(map[string]any)
	t, _ := r["Type"].(string)
	return t
}

func properties(resource any) map[string]any {
	r, _ := resource.(map[string]any)
	p, _ := r["Properties"].(map[string]any)
	return p
}

// referenced follows {"Ref": id} to a resource of type want.
func referenced(resources map[string]any, ref any, want, field string) (map[string]any, error) {
	m, _ := ref.(map[string]any)
	id, ok := m["Ref"].(string)
	if !ok || len(m) != 1 {
		return nil, fmt.Errorf("%s: %v is not a {\"Ref\": ...} to a resource of this template", field, ref)
	}
	r, ok := resources[id]
	if !ok {
		return nil, fmt.Errorf("%s: %s is not a resource of this template", field, id)
	}
	if got := typeOf(r); got != want {
		return nil, fmt.Errorf("%s: %s is a %s, not a %s", field, id, got, want)
	}
	return properties(r), nil
}

// targetGroupAttributes turns TargetGroupAttributes' list of Key/Value pairs
// into an object, so that an attribute reads like a property.
func targetGroupAttributes(tg map[string]any) map[string]any {
	attrs := map[string]any{}
	list, _ := tg["TargetGroupAttributes"].([]any)
	for _, a := range list {
		kv, _ := a.(map[string]any)
		if k, ok := kv["Key"].(string); ok {
			attrs[k] = kv["Value"]
		}
	}
	return attrs
}

// reader reads whole numbers from decoded JSON and keeps the first error,
// so that a service's settings read as one expression.
type reader struct{ err error }

// int returns obj[key], or def when obj has no such key. CloudFormation
// takes a number either as a JSON number or as a string of digits (target
// group attributes are always strings), so both are accepted.
func (r *reader) int(obj map[string]any, key string, def int) int {
	if r.err != nil {
		return 0
	}
	v, ok := obj[key]
	if !ok {
		return def
	}
	var f float64
	switch v := v.(type) {
	case float64:
		f = v
	case string:
		n, err := strconv.Atoi(v)
		if err != nil {
			r.err = fmt.Errorf("%s: %q is not a whole number", key, v)
			return 0
		}
		return n
	default:
		r.err = fmt.Errorf("%s: %v is not a literal number (a value known only at deploy time cannot be modelled)", key, v)
		return 0
	}
	if f != math.Trunc(f) || math.Abs(f) > math.MaxInt32 {
		r.err = fmt.Errorf("%s: %v is not a whole number", key, f)
		return 0
	}
	return int(f)
}

func (r *reader) seconds(obj map[string]any, key string, def int) time.Duration {
	return time.Duration(r.int(obj, key, def)) * time.Second
}
