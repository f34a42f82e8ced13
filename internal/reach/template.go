package reach

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// CloudFormation resource types the analysis reads.
const (
	typeSecurityGroup       = "AWS::EC2::SecurityGroup"
	typeIngress             = "AWS::EC2::SecurityGroupIngress"
	typeEgress              = "AWS::EC2::SecurityGroupEgress"
	typeVPC                 = "AWS::EC2::VPC"
	typeSubnet              = "AWS::EC2::Subnet"
	typeLaunchTemplate      = "AWS::EC2::LaunchTemplate"
	typeVPCEndpoint         = "AWS::EC2::VPCEndpoint"
	typeEndpointService     = "AWS::EC2::VPCEndpointService"
	typeLoadBalancer        = "AWS::ElasticLoadBalancingV2::LoadBalancer"
	typeListener            = "AWS::ElasticLoadBalancingV2::Listener"
	typeTargetGroup         = "AWS::ElasticLoadBalancingV2::TargetGroup"
	typeService             = "AWS::ECS::Service"
	typeTaskDefinition      = "AWS::ECS::TaskDefinition"
	typeCluster             = "AWS::ECS::Cluster"
	typeCapacityProvider    = "AWS::ECS::CapacityProvider"
	typeClusterAssociations = "AWS::ECS::ClusterCapacityProviderAssociations"
	typeAutoScalingGroup    = "AWS::AutoScaling::AutoScalingGroup"
	typeLaunchConfiguration = "AWS::AutoScaling::LaunchConfiguration"
)

// template is a decoded CloudFormation template with the lookups that
// resolve references as far as they can be resolved without deploying it.
type template struct {
	resources map[string]*resource
	byType    map[string][]*resource
}

type resource struct {
	id    string
	typ   string
	props map[string]any
}

func newTemplate(raw map[string]any) (*template, error) {
	if raw == nil {
		return nil, errors.New("template is nil")
	}
	rs, ok := raw["Resources"].(map[string]any)
	if !ok {
		return nil, errors.New("template has no Resources object")
	}
	t := &template{resources: map[string]*resource{}, byType: map[string][]*resource{}}
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
		r := &resource{id: id, typ: typ, props: props}
		t.resources[id] = r
		t.byType[typ] = append(t.byType[typ], r)
	}
	for _, list := range t.byType {
		slices.SortFunc(list, func(a, b *resource) int { return strings.Compare(a.id, b.id) })
	}
	return t, nil
}

// ofType lists the resources of type typ, sorted by logical ID.
func (t *template) ofType(typ string) []*resource { return t.byType[typ] }

// resource returns the resource with logical ID id if it has type typ.
func (t *template) resource(id, typ string) *resource {
	if r := t.resources[id]; r != nil && r.typ == typ {
		return r
	}
	return nil
}

// refTarget is the logical ID of the template resource that v points at,
// written as {"Ref": id} or {"Fn::GetAtt": [id, attr]} (or the short string
// form "id.attr"), when attr is one of attrs. A Ref to a parameter or a
// pseudo parameter is not a resource and yields false.
func (t *template) refTarget(v any, attrs ...string) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", false
	}
	if id, ok := m["Ref"].(string); ok {
		_, exists := t.resources[id]
		return id, exists
	}
	id, attr, ok := getAtt(m["Fn::GetAtt"])
	if !ok || !slices.Contains(attrs, attr) {
		return "", false
	}
	_, exists := t.resources[id]
	return id, exists
}

// getAtt splits the argument of Fn::GetAtt, which CloudFormation accepts as
// [id, attr] or as "id.attr".
func getAtt(v any) (id, attr string, ok bool) {
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

// key is a stable name for the thing v identifies: the logical ID for a
// reference to a template resource (through Ref or one of attrs), the
// literal for a plain string such as an imported "sg-0123", and otherwise a
// canonical rendering of the expression, so that two equal expressions
// (the same Fn::ImportValue, the same parameter) name the same thing.
func (t *template) key(v any, attrs ...string) string {
	if id, ok := t.refTarget(v, attrs...); ok {
		return id
	}
	if s, ok := v.(string); ok {
		return s
	}
	return render(v)
}

// render writes an intrinsic function compactly, with Fn::GetAtt always in
// its list form, for keys and messages.
func render(v any) string {
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		if ref, ok := m["Ref"].(string); ok {
			return "Ref(" + ref + ")"
		}
		if id, attr, ok := getAtt(m["Fn::GetAtt"]); ok {
			return "GetAtt(" + id + "." + attr + ")"
		}
		if arg, ok := m["Fn::ImportValue"]; ok {
			return "ImportValue(" + render(arg) + ")"
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

// literal returns v if it is a plain string.
func literal(v any) (string, bool) {
	s, ok := v.(string)
	return s, ok
}

// integer reads a whole number written as a JSON number or, as
// CloudFormation also accepts for Integer properties, as a string.
func integer(v any) (int, bool) {
	switch n := v.(type) {
	case float64:
		if n != math.Trunc(n) || math.Abs(n) > 1<<31 {
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

// list returns v as a list; a missing value is an empty list.
func list(v any) []any {
	a, _ := v.([]any)
	return a
}

// object returns v as an object, or nil.
func object(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// joinedLiterals concatenates the literal parts of a user data script, which
// templates write as Fn::Base64 of Fn::Join or Fn::Sub, so that settings
// such as ECS_DYNAMIC_HOST_PORT_RANGE can be read. References in between
// become a single space.
func joinedLiterals(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []any:
		var b strings.Builder
		for _, e := range x {
			b.WriteString(joinedLiterals(e))
		}
		return b.String()
	case map[string]any:
		if len(x) == 1 {
			for k, arg := range x {
				switch k {
				case "Fn::Base64":
					return joinedLiterals(arg)
				case "Fn::Join":
					parts := list(arg)
					if len(parts) == 2 {
						sep, _ := parts[0].(string)
						var out []string
						for _, p := range list(parts[1]) {
							out = append(out, joinedLiterals(p))
						}
						return strings.Join(out, sep)
					}
				case "Fn::Sub":
					if s, ok := arg.(string); ok {
						return s
					}
					if a := list(arg); len(a) > 0 {
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

// mentions reports whether v contains a Ref to (or Fn::GetAtt of) id
// anywhere: a launch template's user data that writes ECS_CLUSTER from the
// cluster's Ref registers its instances with that cluster.
func mentions(v any, id string) bool {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			if ref, ok := x["Ref"].(string); ok && ref == id {
				return true
			}
			if rid, _, ok := getAtt(x["Fn::GetAtt"]); ok && rid == id {
				return true
			}
		}
		for _, e := range x {
			if mentions(e, id) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if mentions(e, id) {
				return true
			}
		}
	}
	return false
}

// cdkSuffix is the hash aws-cdk-lib appends to logical IDs.
var cdkSuffix = regexp.MustCompile(`^(.+)[0-9A-F]{8}$`)

// ShortName is a logical ID without the eight hexadecimal digits aws-cdk-lib
// appends to make it unique ("LoadBalancerSecurityGroupA28D6DD7" becomes
// "LoadBalancerSecurityGroup"), for labels people read. IDs without such a
// suffix are returned as they are.
func ShortName(logicalID string) string {
	if m := cdkSuffix.FindStringSubmatch(logicalID); m != nil {
		return m[1]
	}
	return logicalID
}
