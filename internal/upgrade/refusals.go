package upgrade

import (
	"fmt"
	"slices"

	"github.com/passthrough-cdk/passthrough/internal/cfn"
)

// Refusal is an update that CloudFormation refuses, or that fails half way
// and rolls back, for a reason the resource specification's update
// semantics do not show.
type Refusal struct {
	LogicalID, Type string
	// Kind is which of the refusals below it is, in a few words.
	Kind   string
	Reason string
}

// Kinds of Refusal.
const (
	KindCustomName     = "replaced under its custom name"
	KindNameTaken      = "takes a name another resource holds"
	KindListenerPort   = "takes a listener port another listener holds"
	KindTargetGroupTwo = "attaches a target group to two load balancers"
)

func (r Refusal) String() string {
	return fmt.Sprintf("%s %s: %s", r.Type, r.LogicalID, r.Reason)
}

// nameProps are the properties that give a resource a fixed physical name.
var nameProps = map[string]string{
	cfn.TypeLoadBalancer:    "Name",
	cfn.TypeTargetGroup:     "Name",
	cfn.TypeService:         "ServiceName",
	cfn.TypeCluster:         "ClusterName",
	cfn.TypeSecurityGroup:   "GroupName",
	typeAlarm:               "AlarmName",
	"AWS::Events::Rule":     "Name",
	"AWS::Logs::LogGroup":   "LogGroupName",
	"AWS::IAM::Role":        "RoleName",
	"AWS::SNS::Topic":       "TopicName",
	"AWS::Lambda::Function": "FunctionName",
}

// refusals finds, in an update from old to new whose changes are given:
//
//   - a resource with a fixed name that is replaced and keeps its name:
//     CloudFormation creates the replacement before it deletes the old
//     resource, and refuses to ("CloudFormation cannot update a stack when a
//     custom-named resource requires replacing", AWS CloudFormation user
//     guide, resource type reference, Name properties);
//   - a resource created, or replaced, under the fixed name that another
//     logical ID holds until the cleanup at the end of the update: the
//     creation fails with AlreadyExists, except for a CloudWatch alarm,
//     which PutMetricAlarm overwrites, and which the deletion of the old
//     logical ID then removes for good;
//   - a listener that takes a port of a load balancer (created there,
//     replaced, or moved by an update of its Port) which another listener
//     holds before the update: "A listener already exists on this port for
//     this load balancer", because CloudFormation creates and updates before
//     it deletes (aws/aws-cdk#13901), and which of two listeners that swap
//     ports goes first is not defined;
//   - a listener of a new or replaced load balancer that forwards to a
//     target group which is kept, while the listeners of the old load
//     balancer still forward to it until the cleanup: "The following target
//     groups cannot be associated with more than one load balancer"
//     (aws/aws-cdk#33253; a target group serves one load balancer, Elastic
//     Load Balancing user guide for Network Load Balancers, target groups).
func refusals(old, new *cfn.Template, changes []Change) []Refusal {
	impact := impacts(changes)
	var out []Refusal
	out = append(out, namedReplacements(old, new, changes)...)
	out = append(out, listenerPorts(old, new, impact)...)
	out = append(out, sharedTargetGroups(old, new, impact)...)
	return sortRefusals(out)
}

func namedReplacements(old, new *cfn.Template, changes []Change) []Refusal {
	var out []Refusal
	// Who holds each fixed name before the update.
	holders := map[string]string{}
	for typ, prop := range nameProps {
		for _, r := range old.OfType(typ) {
			if v := r.Props[prop]; v != nil {
				holders[typ+"\x00"+cfn.Render(v)] = r.ID
			}
		}
	}
	for _, c := range changes {
		prop, named := nameProps[c.Type]
		if !named || (c.Impact != Replace && c.Impact != Create) {
			continue
		}
		r := new.Resource(c.LogicalID, c.Type)
		if r == nil || r.Props[prop] == nil {
			continue
		}
		name := cfn.Render(r.Props[prop])
		holder, held := holders[c.Type+"\x00"+name]
		switch {
		case !held:
		case holder == c.LogicalID && c.Impact == Replace:
			out = append(out, Refusal{c.LogicalID, c.Type, KindCustomName, fmt.Sprintf(
				"is replaced (%v) and keeps its %s %q; CloudFormation does not replace a resource with a custom name: change the name in the same update",
				c.Replacing, prop, name)})
		case holder != c.LogicalID:
			// Whether the holder is deleted, replaced or kept, it holds the
			// name until the cleanup at the end of the update, or for good.
			what := "creating it fails with AlreadyExists"
			if c.Type == typeAlarm {
				what = "PutMetricAlarm overwrites that alarm, and deleting " + holder + " at the end of the update then deletes it"
			}
			out = append(out, Refusal{c.LogicalID, c.Type, KindNameTaken, fmt.Sprintf(
				"takes the %s %q, which %s holds until CloudFormation deletes it at the end of the update: %s",
				prop, name, holder, what)})
		}
	}
	return out
}

// physical names the load balancer a listener's LoadBalancerArn points at,
// as it is during the update: a replaced load balancer is another one.
func physical(t *cfn.Template, listener *cfn.Resource, impact map[string]Impact, after bool) string {
	key := t.Key(listener.Props["LoadBalancerArn"], "LoadBalancerArn")
	if after && (impact[key] == Replace || impact[key] == Create) {
		return key + " (new)"
	}
	return key
}

func listenerPorts(old, new *cfn.Template, impact map[string]Impact) []Refusal {
	held := map[string]string{} // load balancer and port -> listener, before
	for _, l := range old.OfType(cfn.TypeListener) {
		if port, ok := cfn.Integer(l.Props["Port"]); ok {
			held[fmt.Sprintf("%s:%d", physical(old, l, impact, false), port)] = l.ID
		}
	}
	var out []Refusal
	for _, l := range new.OfType(cfn.TypeListener) {
		port, ok := cfn.Integer(l.Props["Port"])
		if !ok {
			continue
		}
		if before := old.Resource(l.ID, cfn.TypeListener); before != nil && impact[l.ID] != Replace {
			if p, _ := cfn.Integer(before.Props["Port"]); p == port {
				continue // keeps its port
			}
		}
		lb := physical(new, l, impact, true)
		if holder, taken := held[fmt.Sprintf("%s:%d", lb, port)]; taken && holder != l.ID {
			out = append(out, Refusal{l.ID, cfn.TypeListener, KindListenerPort, fmt.Sprintf(
				"takes port %d of load balancer %s, which listener %s holds before the update: \"A listener already exists on this port for this load balancer\" (CloudFormation creates and updates before it deletes; aws/aws-cdk#13901)",
				port, lb, holder)})
		}
	}
	return out
}

func sharedTargetGroups(old, new *cfn.Template, impact map[string]Impact) []Refusal {
	attached := map[string][]string{} // target group -> load balancers, before
	for _, l := range old.OfType(cfn.TypeListener) {
		for _, tg := range old.ListenerTargetGroups(l) {
			attached[tg] = append(attached[tg], physical(old, l, impact, false))
		}
	}
	var out []Refusal
	for _, l := range new.OfType(cfn.TypeListener) {
		if impact[l.ID] == "" {
			continue // unchanged
		}
		lb := physical(new, l, impact, true)
		for _, tg := range new.ListenerTargetGroups(l) {
			if impact[tg] == Replace || impact[tg] == Create {
				continue // a new target group
			}
			for _, other := range attached[tg] {
				if other != lb {
					out = append(out, Refusal{l.ID, cfn.TypeListener, KindTargetGroupTwo, fmt.Sprintf(
						"attaches target group %s, which stays attached to load balancer %s until the end of the update, to load balancer %s: \"The following target groups cannot be associated with more than one load balancer\" (aws/aws-cdk#33253)",
						tg, other, lb)})
					break
				}
			}
		}
	}
	return slices.Clip(out)
}
