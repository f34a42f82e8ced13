// Package cfn is the one reader of synthesized CloudFormation templates that
// the reachability analysis (internal/reach), the rollout model
// (internal/rollout) and the architecture tests share: resources by logical
// ID and type, references written as Ref or Fn::GetAtt resolved as far as
// they can be without deploying the template, literals read the way
// CloudFormation reads them, the links from a listener to its target groups
// and from a service to its target groups, and the short names people read.
package cfn

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// CloudFormation resource types the readers of templates look at.
const (
	TypeSecurityGroup       = "AWS::EC2::SecurityGroup"
	TypeIngress             = "AWS::EC2::SecurityGroupIngress"
	TypeEgress              = "AWS::EC2::SecurityGroupEgress"
	TypeVPC                 = "AWS::EC2::VPC"
	TypeSubnet              = "AWS::EC2::Subnet"
	TypeLaunchTemplate      = "AWS::EC2::LaunchTemplate"
	TypeVPCEndpoint         = "AWS::EC2::VPCEndpoint"
	TypeEndpointService     = "AWS::EC2::VPCEndpointService"
	TypeLoadBalancer        = "AWS::ElasticLoadBalancingV2::LoadBalancer"
	TypeListener            = "AWS::ElasticLoadBalancingV2::Listener"
	TypeTargetGroup         = "AWS::ElasticLoadBalancingV2::TargetGroup"
	TypeService             = "AWS::ECS::Service"
	TypeTaskDefinition      = "AWS::ECS::TaskDefinition"
	TypeCluster             = "AWS::ECS::Cluster"
	TypeCapacityProvider    = "AWS::ECS::CapacityProvider"
	TypeClusterAssociations = "AWS::ECS::ClusterCapacityProviderAssociations"
	TypeAutoScalingGroup    = "AWS::AutoScaling::AutoScalingGroup"
	TypeLaunchConfiguration = "AWS::AutoScaling::LaunchConfiguration"
	TypeScalableTarget      = "AWS::ApplicationAutoScaling::ScalableTarget"
)

// Template is a decoded CloudFormation template.
type Template struct {
	resources map[string]*Resource
	byType    map[string][]*Resource
}

// Resource is one entry of a template's Resources.
type Resource struct {
	ID   string
	Type string
	// Props are the resource's Properties; empty, not nil, without any.
	Props map[string]any
}

// New reads a template as encoding/json decodes it into a map. It fails only
// for what is not a CloudFormation template: no Resources object, or a
// resource that is not an object with a Type.
func New(raw map[string]any) (*Template, error) {
	if raw == nil {
		return nil, errors.New("template is nil")
	}
	rs, ok := raw["Resources"].(map[string]any)
	if !ok {
		return nil, errors.New("template has no Resources object")
	}
	t := &Template{resources: map[string]*Resource{}, byType: map[string][]*Resource{}}
	for id, v := range rs {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("resource %s is not an object", id)
		}
		typ, ok := m["Type"].(string)
		if !ok {
			return nil, fmt.Errorf("resource %s has no Type", id)
		}
		props, _ := m["Properties"].(map[string]any)
		if props == nil {
			props = map[string]any{}
		}
		r := &Resource{ID: id, Type: typ, Props: props}
		t.resources[id] = r
		t.byType[typ] = append(t.byType[typ], r)
	}
	for _, list := range t.byType {
		slices.SortFunc(list, func(a, b *Resource) int { return strings.Compare(a.ID, b.ID) })
	}
	return t, nil
}

// OfType lists the resources of type typ, sorted by logical ID.
func (t *Template) OfType(typ string) []*Resource { return t.byType[typ] }

// Lookup returns the resource with logical ID id, of any type, or nil.
func (t *Template) Lookup(id string) *Resource { return t.resources[id] }

// Resource returns the resource with logical ID id if it has type typ.
func (t *Template) Resource(id, typ string) *Resource {
	if r := t.resources[id]; r != nil && r.Type == typ {
		return r
	}
	return nil
}

// RefTarget is the logical ID of the template resource that v points at,
// written as {"Ref": id} or {"Fn::GetAtt": [id, attr]} (or the short string
// form "id.attr"), when attr is one of attrs. A Ref to a parameter or a
// pseudo parameter is not a resource and yields false.
func (t *Template) RefTarget(v any, attrs ...string) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", false
	}
	if id, ok := m["Ref"].(string); ok {
		_, exists := t.resources[id]
		return id, exists
	}
	id, attr, ok := GetAtt(m["Fn::GetAtt"])
	if !ok || !slices.Contains(attrs, attr) {
		return "", false
	}
	_, exists := t.resources[id]
	return id, exists
}

// Key is a stable name for the thing v identifies: the logical ID for a
// reference to a template resource (through Ref or one of attrs), the
// literal for a plain string such as an imported "sg-0123", and otherwise a
// canonical rendering of the expression, so that two equal expressions
// (the same Fn::ImportValue, the same parameter) name the same thing.
func (t *Template) Key(v any, attrs ...string) string {
	if id, ok := t.RefTarget(v, attrs...); ok {
		return id
	}
	if s, ok := v.(string); ok {
		return s
	}
	return Render(v)
}

// ListenerTargetGroups are the keys ([Template.Key]) of the target groups an
// AWS::ElasticLoadBalancingV2::Listener forwards to by default, through
// TargetGroupArn or a ForwardConfig, sorted and without repeats.
func (t *Template) ListenerTargetGroups(listener *Resource) []string {
	var out []string
	for _, act := range List(listener.Props["DefaultActions"]) {
		act := Object(act)
		if v, ok := act["TargetGroupArn"]; ok {
			out = append(out, t.Key(v))
		}
		for _, tg := range List(Object(act["ForwardConfig"])["TargetGroups"]) {
			if v, ok := Object(tg)["TargetGroupArn"]; ok {
				out = append(out, t.Key(v))
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Attachment is one entry of an AWS::ECS::Service's LoadBalancers that
// registers the service's tasks in a target group.
type Attachment struct {
	// TargetGroup is the TargetGroupArn property as written.
	TargetGroup any
	Container   string
	// Port is the ContainerPort, 0 when it is not a literal number.
	Port int
	// Alternate marks the alternate target group of a blue/green
	// deployment (AdvancedConfiguration.AlternateTargetGroupArn), in which
	// ECS registers the same container's new tasks.
	Alternate bool
}

// ServiceAttachments lists the target groups an AWS::ECS::Service registers
// its tasks in, in the order of its LoadBalancers, followed by the
// alternate target groups of blue/green deployments. Entries that name a
// Classic Load Balancer (LoadBalancerName) are left out.
func ServiceAttachments(service *Resource) []Attachment {
	var out, alternates []Attachment
	for _, lb := range List(service.Props["LoadBalancers"]) {
		lb := Object(lb)
		if lb["TargetGroupArn"] == nil {
			continue
		}
		a := Attachment{TargetGroup: lb["TargetGroupArn"]}
		a.Container, _ = Literal(lb["ContainerName"])
		a.Port, _ = Integer(lb["ContainerPort"])
		out = append(out, a)
		if alt := Object(lb["AdvancedConfiguration"])["AlternateTargetGroupArn"]; alt != nil {
			a.TargetGroup, a.Alternate = alt, true
			alternates = append(alternates, a)
		}
	}
	return append(out, alternates...)
}

// GetAtt splits the argument of Fn::GetAtt, which CloudFormation accepts as
// [id, attr] or as "id.attr".
func GetAtt(v any) (id, attr string, ok bool) {
	switch a := v.(type) {
	case []any:
		if len(a) != 2 {
			return "", "", false
		}
		id, ok1 := a[0].(string)
		attr, ok2 := a[1].(string)
		return id, attr, ok1 && ok2
	case string:
		id, attr, ok := strings.Cut(a, ".")
		return id, attr, ok
	}
	return "", "", false
}

// Ref is a reference inside a property value: {"Ref": ID} (Attr empty) or
// {"Fn::GetAtt": [ID, Attr]}.
type Ref struct{ ID, Attr string }

// Refs lists every reference anywhere in v, at any depth (inside an
// Fn::Join, an Fn::Sub's variables, a user data script), sorted. A launch
// template's user data that writes ECS_CLUSTER from a cluster's Ref, or a
// ScalableTarget's ResourceId built from a service's Name, refer to them
// this way.
func Refs(v any) []Ref {
	var out []Ref
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if len(x) == 1 {
				if id, ok := x["Ref"].(string); ok {
					out = append(out, Ref{ID: id})
					return
				}
				if id, attr, ok := GetAtt(x["Fn::GetAtt"]); ok {
					out = append(out, Ref{ID: id, Attr: attr})
					return
				}
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	slices.SortFunc(out, func(a, b Ref) int { return strings.Compare(a.ID+"."+a.Attr, b.ID+"."+b.Attr) })
	return slices.Compact(out)
}

// Render writes an intrinsic function compactly, with Fn::GetAtt always in
// its list form, for keys and messages.
func Render(v any) string {
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		if ref, ok := m["Ref"].(string); ok {
			return "Ref(" + ref + ")"
		}
		if id, attr, ok := GetAtt(m["Fn::GetAtt"]); ok {
			return "GetAtt(" + id + "." + attr + ")"
		}
		if arg, ok := m["Fn::ImportValue"]; ok {
			return "ImportValue(" + Render(arg) + ")"
		}
	}
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// Literal returns v if it is a plain string.
func Literal(v any) (string, bool) {
	s, ok := v.(string)
	return s, ok
}

// Integer reads a whole number written as a JSON number or, as
// CloudFormation also accepts for Integer properties (and target group
// attributes always are), as a string.
func Integer(v any) (int, bool) {
	switch n := v.(type) {
	case float64:
		if n != math.Trunc(n) || math.Abs(n) > math.MaxInt32 {
			return 0, false
		}
		return int(n), true
	case int:
		return n, true
	case json.Number:
		i, err := strconv.Atoi(string(n))
		return i, err == nil
	case string:
		i, err := strconv.Atoi(strings.TrimSpace(n))
		return i, err == nil
	}
	return 0, false
}

// List returns v as a list; a missing value is an empty list.
func List(v any) []any {
	a, _ := v.([]any)
	return a
}

// Object returns v as an object, or nil.
func Object(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// Attributes turns a target group's TargetGroupAttributes, a list of
// Key/Value pairs, into an object, so that an attribute reads like a
// property.
func Attributes(targetGroup *Resource) map[string]any {
	attrs := map[string]any{}
	for _, a := range List(targetGroup.Props["TargetGroupAttributes"]) {
		if k, ok := Object(a)["Key"].(string); ok {
			attrs[k] = Object(a)["Value"]
		}
	}
	return attrs
}

// JoinedLiterals concatenates the literal parts of a user data script, which
// templates write as Fn::Base64 of Fn::Join or Fn::Sub, so that settings
// such as ECS_DYNAMIC_HOST_PORT_RANGE can be read. References in between
// become a single space.
func JoinedLiterals(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []any:
		var b strings.Builder
		for _, e := range x {
			b.WriteString(JoinedLiterals(e))
		}
		return b.String()
	case map[string]any:
		if len(x) == 1 {
			for k, arg := range x {
				switch k {
				case "Fn::Base64":
					return JoinedLiterals(arg)
				case "Fn::Join":
					parts := List(arg)
					if len(parts) == 2 {
						sep, _ := parts[0].(string)
						var out []string
						for _, p := range List(parts[1]) {
							out = append(out, JoinedLiterals(p))
						}
						return strings.Join(out, sep)
					}
				case "Fn::Sub":
					if s, ok := arg.(string); ok {
						return s
					}
					if a := List(arg); len(a) > 0 {
						s, _ := a[0].(string)
						return s
					}
				}
			}
		}
		return " "
	}
	return ""
}

// cdkHash is the hash aws-cdk-lib appends to logical IDs.
var cdkHash = regexp.MustCompile(`^(.+)[0-9A-F]{8}$`)

// ShortName is a logical ID without the eight hexadecimal digits aws-cdk-lib
// appends to make it unique ("LoadBalancerSecurityGroupA28D6DD7" becomes
// "LoadBalancerSecurityGroup"), for labels people read. IDs without such a
// suffix, or that are nothing else, are returned as they are.
func ShortName(logicalID string) string {
	if m := cdkHash.FindStringSubmatch(logicalID); m != nil {
		return m[1]
	}
	return logicalID
}

// StackName is the stack a template file belongs to, as `cdk synth` and the
// golden files name them: "test/testdata/PassthroughPublicServicesEC2.template.json"
// is "PassthroughPublicServicesEC2". Another file loses its extension.
func StackName(path string) string {
	base := filepath.Base(path)
	if s, ok := strings.CutSuffix(base, ".template.json"); ok {
		return s
	}
	return strings.TrimSuffix(base, filepath.Ext(base))
}
