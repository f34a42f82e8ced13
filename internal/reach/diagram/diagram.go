// Package diagram draws the traffic paths that package reach finds in a
// synthesized CloudFormation template as a Markdown page with a Mermaid
// flowchart: the clients a load balancer admits, its listeners, their target
// groups and the ECS services behind them, with the security group rules
// that open each hop written on the edges. cmd/pathdiagram prints it for
// any template; docs/diagrams holds it for every example stack, so that a
// change to who can reach what shows up in review as a change to a picture.
package diagram

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/passthrough-cdk/passthrough/internal/cfn"
	"github.com/passthrough-cdk/passthrough/internal/reach"
)

// Document is the Markdown page of one stack: a heading, the template's
// description, the Mermaid flowchart, a table of the paths, the ingress
// rules that serve no listener (those of interface VPC endpoints, or
// unexplained ones), and the problems the analysis finds, if any. The same
// template always gives the same text.
func Document(stack string, tpl map[string]any) (string, error) {
	r, err := reach.Analyze(tpl)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Traffic paths of %s\n\n", stack)
	if desc, ok := tpl["Description"].(string); ok && desc != "" {
		fmt.Fprintf(&b, "%s\n\n", desc)
	}
	b.WriteString("Generated from the stack's synthesized template by `go test ./... -update`. Do not edit by hand.\n\n")
	b.WriteString("```mermaid\n")
	b.WriteString(mermaid(r))
	b.WriteString("```\n")
	if len(r.Paths) > 0 {
		b.WriteString("\n| Listener | Target group | Service | Targets accept from the load balancer | Open |\n|---|---|---|---|---|\n")
		for _, p := range r.Paths {
			tg, svc := "none", "none"
			if p.TargetGroup != nil {
				tg = targetGroupLabel(p.TargetGroup)
			}
			if p.Service != nil {
				svc = serviceLabel(p, ", ")
			}
			var needs []string
			for _, n := range p.Needs {
				needs = append(needs, n.String())
			}
			open := "yes"
			if !p.Open() {
				open = "**no**"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", listenerLabel(p.Listener, p.LoadBalancer), tg, svc, strings.Join(needs, ", "), open)
		}
	}
	var other []*reach.Rule
	for _, rule := range r.Ingress {
		if !servesListener(rule, r) {
			other = append(other, rule)
		}
	}
	if len(other) > 0 {
		b.WriteString("\nIngress that serves no listener:\n\n| Security group | Admits | Serves |\n|---|---|---|\n")
		for _, rule := range other {
			var users []string
			for _, id := range rule.Serves {
				users = append(users, "VPC endpoint "+cfn.ShortName(id))
			}
			serves := strings.Join(users, ", ")
			if rule.Unexplained != "" {
				serves = "**unexplained**: " + rule.Unexplained
			}
			peer := rule.Peer.String()
			if rule.Peer.Kind == reach.PeerGroup {
				peer = "sg " + cfn.ShortName(rule.Peer.ID)
			}
			fmt.Fprintf(&b, "| %s | %s from %s | %s |\n", cfn.ShortName(rule.Group), rule.Traffic(), peer, serves)
		}
	}
	if problems := r.Problems(); len(problems) > 0 {
		b.WriteString("\n## Problems\n\n")
		for _, p := range problems {
			fmt.Fprintf(&b, "- %s\n", p)
		}
	}
	return b.String(), nil
}

// servesListener reports whether a rule is needed by some listener's path.
func servesListener(rule *reach.Rule, r *reach.Report) bool {
	for _, id := range rule.Serves {
		for _, l := range r.Listeners {
			if l.ID == id {
				return true
			}
		}
	}
	return false
}

// mermaid draws a report's paths as a left-to-right flowchart. Nodes and
// edges come out in the report's sorted order, so the same template always
// gives the same text. Hops that are closed are dotted, with the reason.
func mermaid(r *reach.Report) string {
	var b strings.Builder
	b.WriteString("flowchart LR\n")

	// Clients: every peer some listener admits, one node each.
	clients := map[string]string{} // peer -> node ID
	var peers []string
	for _, p := range r.Paths {
		labels := []string{}
		for _, rule := range p.Clients {
			labels = append(labels, peerLabel(rule.Peer, p))
		}
		if p.PrivateLink != "" {
			labels = append(labels, privateLinkClients)
		}
		for _, label := range labels {
			if _, ok := clients[label]; !ok {
				peers = append(peers, label)
				clients[label] = ""
			}
		}
	}
	slices.Sort(peers)
	for i, peer := range peers {
		clients[peer] = fmt.Sprintf("client%d", i+1)
		fmt.Fprintf(&b, "  %s([%s])\n", clients[peer], quote(peer))
	}

	// Load balancers, each a subgraph of its listeners.
	byLB := map[string][]*reach.Listener{}
	for _, l := range r.Listeners {
		byLB[l.LoadBalancer] = append(byLB[l.LoadBalancer], l)
	}
	lbs := map[string]*reach.LoadBalancer{}
	for _, lb := range r.LoadBalancers {
		lbs[lb.ID] = lb
	}
	for _, id := range slices.Sorted(maps.Keys(byLB)) {
		title := "load balancer " + id + " (not in the template)"
		if lb := lbs[id]; lb != nil {
			title = loadBalancerLabel(lb)
		}
		fmt.Fprintf(&b, "  subgraph %s[%s]\n", nodeID("lb", id), quote(title))
		for _, l := range byLB[id] {
			fmt.Fprintf(&b, "    %s[%s]\n", nodeID("listener", l.ID), quote(listenerLabel(l, lbs[id])))
		}
		b.WriteString("  end\n")
	}

	// Target groups and services, once each.
	seen := map[string]bool{}
	node := func(id, shape string) {
		if !seen[id] {
			seen[id] = true
			b.WriteString(shape)
		}
	}
	for _, p := range r.Paths {
		if p.TargetGroup != nil {
			id := nodeID("tg", p.TargetGroup.ID)
			node(id, fmt.Sprintf("  %s[%s]\n", id, quote(targetGroupLabel(p.TargetGroup))))
		}
		if p.Service != nil {
			id := nodeID("svc", p.Service.ID)
			node(id, fmt.Sprintf("  %s[[%s]]\n", id, quote(serviceLabel(p, "<br/>"))))
		}
	}

	// Edges, path by path: clients -> listener, listener -> target group
	// (the load balancer's egress), target group -> service (the targets'
	// ingress).
	drawn := map[string]bool{}
	edge := func(from, to string, rules []string, failures []string) {
		label := strings.Join(append(rules, failures...), "<br/>")
		arrow := "-->"
		if len(failures) > 0 {
			arrow = "-.->"
		}
		line := fmt.Sprintf("  %s %s|%s| %s\n", from, arrow, quote(label), to)
		if label == "" {
			line = fmt.Sprintf("  %s %s %s\n", from, arrow, to)
		}
		if !drawn[line] {
			drawn[line] = true
			b.WriteString(line)
		}
	}
	for _, p := range r.Paths {
		listener := nodeID("listener", p.Listener.ID)
		byPeer := map[string][]string{}
		for _, rule := range p.Clients {
			peer := peerLabel(rule.Peer, p)
			byPeer[peer] = append(byPeer[peer], ruleLabel(rule, p))
		}
		if p.PrivateLink != "" {
			byPeer[privateLinkClients] = append(byPeer[privateLinkClients], "endpoint service "+cfn.ShortName(p.PrivateLink)+": NLB sg not enforced")
		}
		for _, peer := range slices.Sorted(maps.Keys(byPeer)) {
			edge(clients[peer], listener, byPeer[peer], nil)
		}
		if failed := failures(p, reach.HopClients); len(failed) > 0 {
			id := nodeID("noclient", p.Listener.ID)
			node(id, fmt.Sprintf("  %s([%s])\n", id, quote("no client admitted")))
			edge(id, listener, nil, failed)
		}
		if p.TargetGroup == nil {
			id := nodeID("missing", p.Listener.ID)
			node(id, fmt.Sprintf("  %s[%s]\n", id, quote("no target group")))
			edge(listener, id, nil, failures(p, reach.HopWiring))
			continue
		}
		tg := nodeID("tg", p.TargetGroup.ID)
		var egress []string
		for _, rule := range p.Egress {
			egress = append(egress, ruleLabel(rule, p))
		}
		wiring := failures(p, reach.HopWiring)
		edge(listener, tg, egress, append(failures(p, reach.HopEgress), wiring...))
		if p.Service == nil {
			id := nodeID("nosvc", p.TargetGroup.ID)
			node(id, fmt.Sprintf("  %s[%s]\n", id, quote("no ECS service")))
			edge(tg, id, nil, wiring)
			continue
		}
		var ingress []string
		for _, rule := range p.Ingress {
			ingress = append(ingress, ruleLabel(rule, p))
		}
		edge(tg, nodeID("svc", p.Service.ID), ingress, failures(p, reach.HopTargets))
	}
	return b.String()
}

// privateLinkClients is the client node of consumers that reach a load
// balancer through its endpoint service, past its security groups.
const privateLinkClients = "PrivateLink consumers"

func failures(p *reach.Path, hop reach.Hop) []string {
	var out []string
	for _, f := range p.Failures {
		if f.Hop == hop {
			out = append(out, "blocked: "+f.Reason)
		}
	}
	return out
}

func loadBalancerLabel(lb *reach.LoadBalancer) string {
	scheme := "internal"
	if lb.InternetFacing {
		scheme = "internet-facing"
	}
	var groups []string
	for _, g := range lb.SecurityGroups {
		groups = append(groups, "sg "+cfn.ShortName(g))
	}
	if len(groups) == 0 {
		groups = []string{"no security group"}
	}
	return fmt.Sprintf("%s %s (%s, %s)", lbKind(lb), cfn.ShortName(lb.ID), scheme, strings.Join(groups, ", "))
}

func listenerLabel(l *reach.Listener, lb *reach.LoadBalancer) string {
	label := fmt.Sprintf("listener %s %d", l.Protocol, l.Port)
	if lb != nil {
		label = lbKind(lb) + " " + label
	}
	return label
}

// lbKind is the short name of a load balancer's type.
func lbKind(lb *reach.LoadBalancer) string {
	if kind, ok := map[string]string{"network": "NLB", "application": "ALB", "gateway": "GWLB"}[lb.Type]; ok {
		return kind
	}
	return lb.Type
}

func targetGroupLabel(tg *reach.TargetGroup) string {
	name := strings.TrimSuffix(cfn.ShortName(tg.ID), "TargetGroup")
	if name == "" {
		name = cfn.ShortName(tg.ID)
	}
	return fmt.Sprintf("target group %s (%s, %s %d)", name, tg.TargetType, tg.Protocol, tg.Port)
}

// serviceLabel names a path's service and the container it reaches, on two
// lines joined by sep.
func serviceLabel(p *reach.Path, sep string) string {
	s := p.Service
	launch := map[string]string{"FARGATE": "Fargate", "EXTERNAL": "External"}[s.Launch]
	if launch == "" {
		launch = s.Launch
	}
	label := fmt.Sprintf("ECS service %s (%s, %s)", s.Name, launch, s.NetworkMode)
	if p.ContainerName != "" {
		label += fmt.Sprintf("%scontainer %s:%d", sep, p.ContainerName, p.ContainerPort)
	}
	return label
}

// peerLabel names a rule's peer; the path's own load balancer group is
// "NLB sg", which is what target rules should say.
func peerLabel(peer reach.Peer, p *reach.Path) string {
	if peer.Kind == reach.PeerGroup {
		if p.LoadBalancer != nil && slices.Contains(p.LoadBalancer.SecurityGroups, peer.ID) {
			return "NLB sg"
		}
		return "sg " + cfn.ShortName(peer.ID)
	}
	return peer.String()
}

// ruleLabel writes a rule the way the diagrams show it:
// "sg ApiSecurityGroup: 8443 from NLB sg".
func ruleLabel(rule *reach.Rule, p *reach.Path) string {
	ports := strings.TrimPrefix(rule.Traffic(), "tcp ")
	word := "from"
	if rule.Direction == reach.Egress {
		word = "to"
	}
	implicit := ""
	if rule.Implicit {
		implicit = " (EC2 default egress)"
	}
	return fmt.Sprintf("sg %s: %s %s %s%s", cfn.ShortName(rule.Group), ports, word, peerLabel(rule.Peer, p), implicit)
}

// nodeID makes a Mermaid node ID from a kind and a logical ID or expression.
func nodeID(kind, id string) string {
	var b strings.Builder
	b.WriteString(kind + "_")
	for _, r := range id {
		if r < 128 && (r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// quote writes a Mermaid string label; Mermaid has no escape for a double
// quote inside one but its entity code.
func quote(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, "#quot;") + `"`
}
