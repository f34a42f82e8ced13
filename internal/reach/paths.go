package reach

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/passthrough-cdk/passthrough/internal/cfn"
)

// listenerProtocols are the IP protocols a listener receives.
func listenerProtocols(protocol string) []string {
	switch protocol {
	case "UDP":
		return []string{"udp"}
	case "TCP_UDP":
		return []string{"tcp", "udp"}
	}
	return []string{"tcp"}
}

func (a *analysis) buildPaths() {
	forwarded := map[string]bool{}
	for _, l := range a.r.Listeners {
		for _, tg := range l.TargetGroups {
			forwarded[tg] = true
		}
	}
	for _, reg := range a.regs {
		if !forwarded[reg.targetGroup] {
			a.r.UnreachedServices = append(a.r.UnreachedServices, fmt.Sprintf("service %s registers container %s:%d in target group %s, which no listener forwards to", reg.svc.ID, reg.container, reg.port, reg.targetGroup))
		}
	}
	for _, l := range a.r.Listeners {
		lb := a.lbs[l.LoadBalancer]
		for _, tgID := range l.TargetGroups {
			tg := a.tgs[tgID]
			var regs []*registration
			for _, reg := range a.regs {
				if reg.targetGroup == tgID {
					regs = append(regs, reg)
				}
			}
			if len(regs) == 0 {
				p := &Path{Listener: l, LoadBalancer: lb, TargetGroup: tg}
				switch {
				case tg == nil:
					p.fail(HopWiring, "forwards to %s, which is not a target group in the template", tgID)
				case tg.StaticTargets:
					p.fail(HopWiring, "target group %s lists static targets, which this analysis does not follow", tgID)
				default:
					p.fail(HopWiring, "no ECS service registers targets in target group %s", tgID)
				}
				a.checkClients(p)
				a.r.Paths = append(a.r.Paths, p)
				continue
			}
			for _, reg := range regs {
				a.r.Paths = append(a.r.Paths, a.path(l, lb, tg, reg))
			}
		}
	}
}

func (p *Path) fail(hop Hop, format string, args ...any) {
	p.Failures = append(p.Failures, Failure{hop, fmt.Sprintf(format, args...)})
}

func (a *analysis) path(l *Listener, lb *LoadBalancer, tg *TargetGroup, reg *registration) *Path {
	p := &Path{Listener: l, LoadBalancer: lb, TargetGroup: tg, Service: reg.svc,
		ContainerName: reg.container, ContainerPort: reg.port, TargetPorts: reg.targetPorts}
	p.Failures = slices.Clone(reg.failures)
	if lb == nil {
		p.fail(HopWiring, "load balancer %s is not in the template", l.LoadBalancer)
	}
	if tg == nil {
		p.fail(HopWiring, "target group %s is not in the template", reg.targetGroup)
		return p
	}
	// ECS registers awsvpc tasks by their own address and bridge or host
	// tasks by their container instance, and fails to register either in
	// a target group of the other type.
	want := "instance"
	if reg.svc.NetworkMode == "awsvpc" {
		want = "ip"
	}
	if tg.TargetType != want {
		p.fail(HopWiring, "target group %s has target type %s, but the %s tasks of service %s register as %s targets", tg.ID, tg.TargetType, reg.svc.NetworkMode, reg.svc.ID, want)
	}
	for _, proto := range listenerProtocols(l.Protocol) {
		p.Needs = append(p.Needs, Need{proto, p.TargetPorts, "traffic"})
	}
	// Health checks (TCP, HTTP or HTTPS) come from the load balancer's
	// nodes, to the traffic port unless the target group names another.
	health := p.TargetPorts
	if tg.HealthCheckPort != "traffic-port" {
		n, ok := cfn.Integer(tg.HealthCheckPort)
		if ok {
			health = Port(n)
		} else {
			p.fail(HopWiring, "health check port %s of target group %s is not a number", tg.HealthCheckPort, tg.ID)
		}
	}
	if !slices.Contains(p.Needs, Need{"tcp", health, "traffic"}) {
		p.Needs = append(p.Needs, Need{"tcp", health, "health checks"})
	}
	a.checkClients(p)
	if lb == nil || len(reg.svc.Placements) == 0 {
		return p
	}
	a.checkEgress(p)
	a.checkTargets(p)
	return p
}

// checkClients is hop (a): the load balancer's security groups admit some
// client on the listener port.
func (a *analysis) checkClients(p *Path) {
	lb := p.LoadBalancer
	if lb == nil || len(lb.SecurityGroups) == 0 {
		return // no security group filters clients
	}
	if len(lb.EndpointServices) > 0 && !lb.FiltersPrivateLink {
		p.PrivateLink = lb.EndpointServices[0]
	}
	for _, proto := range listenerProtocols(p.Listener.Protocol) {
		found := false
		for _, g := range lb.SecurityGroups {
			for _, rule := range a.rules[Ingress][g] {
				if matches(rule, proto) && rule.Ports.Contains(Port(p.Listener.Port)) {
					p.Clients = appendRule(p.Clients, rule)
					found = true
				}
			}
		}
		if !found && p.PrivateLink == "" {
			p.fail(HopClients, "%s admits no client on %s %d%s", groupsPhrase("load balancer", lb.SecurityGroups), proto, p.Listener.Port, a.outside(lb.SecurityGroups))
		}
	}
}

// checkEgress is hop (b): the load balancer's security groups let it send
// every need to every placement of the targets.
func (a *analysis) checkEgress(p *Path) {
	lb := p.LoadBalancer
	if len(lb.SecurityGroups) == 0 {
		return // without a security group all traffic leaves the load balancer
	}
	for _, pl := range p.Service.Placements {
		reaches := func(peer Peer) bool {
			if peer.Kind == PeerGroup {
				return slices.Contains(pl.SecurityGroups, peer.ID)
			}
			return pl.addrs.coveredBy(peer)
		}
		for _, need := range p.Needs {
			var got portSet
			for _, g := range lb.SecurityGroups {
				for _, rule := range a.rules[Egress][g] {
					if matches(rule, need.Protocol) && reaches(rule.Peer) {
						got = got.add(rule.Ports)
						p.Egress = appendRule(p.Egress, rule)
					}
				}
			}
			if !got.covers(need.Ports) {
				p.fail(HopEgress, "%s allows %s to %s, needs %s%s", groupsPhrase("load balancer", lb.SecurityGroups), allowed(need.Protocol, got), placementPhrase(p.Service, pl), need, a.outside(lb.SecurityGroups))
			}
		}
	}
}

// checkTargets is hop (c): some security group of every placement admits
// the load balancer on every need.
func (a *analysis) checkTargets(p *Path) {
	lb := p.LoadBalancer
	for _, pl := range p.Service.Placements {
		for _, need := range p.Needs {
			var got portSet
			for _, g := range pl.SecurityGroups {
				for _, rule := range a.rules[Ingress][g] {
					if matches(rule, need.Protocol) && a.admitsLoadBalancer(rule.Peer, p, need) {
						got = got.add(rule.Ports)
						p.Ingress = appendRule(p.Ingress, rule)
					}
				}
			}
			if !got.covers(need.Ports) {
				from := "the load balancer"
				if len(lb.SecurityGroups) > 0 {
					from = "the load balancer's " + groupsPhrase("", lb.SecurityGroups)
				}
				p.fail(HopTargets, "%s admits %s from %s, needs %s%s", placementPhrase(p.Service, pl), allowed(need.Protocol, got), from, need, a.outside(pl.SecurityGroups))
			}
		}
	}
}

// admitsLoadBalancer reports whether an ingress rule's peer covers the
// connections the load balancer makes for need. A reference to the load
// balancer's security group always does. An address range must cover the
// load balancer's nodes, or, for traffic to targets that see the client's
// address, some client.
func (a *analysis) admitsLoadBalancer(peer Peer, p *Path, need Need) bool {
	lb := p.LoadBalancer
	if peer.Kind == PeerGroup {
		return slices.Contains(lb.SecurityGroups, peer.ID)
	}
	if lb.nodes.coveredBy(peer) {
		return true
	}
	if need.Purpose != "traffic" || !p.TargetGroup.PreserveClientIP || !peer.Prefix.IsValid() {
		return false
	}
	if len(lb.SecurityGroups) == 0 {
		return true
	}
	for _, c := range p.Clients {
		if c.Peer.Prefix.IsValid() && c.Peer.Prefix.Overlaps(peer.Prefix) {
			return true
		}
	}
	return false
}

// outside notes, for a failure, which of groups are defined outside the
// template: the analysis knows only the rules the template adds to them, so
// the hop may be open through rules it cannot see.
func (a *analysis) outside(groups []string) string {
	var ext []string
	for _, g := range groups {
		if !a.groups[g].InTemplate {
			ext = append(ext, g)
		}
	}
	if len(ext) == 0 {
		return ""
	}
	return fmt.Sprintf(" (%s defined outside the template: only the rules the template adds are known)", strings.Join(ext, ", "))
}

// matches reports whether a rule admits some traffic of protocol proto.
func matches(rule *Rule, proto string) bool {
	return rule.Protocol == proto || rule.Protocol == "all"
}

// allowed writes the ports of proto that rules admit.
func allowed(proto string, got portSet) string {
	if len(got) == 0 {
		return "no " + proto
	}
	return proto + " " + got.String()
}

func appendRule(rules []*Rule, r *Rule) []*Rule {
	if slices.Contains(rules, r) {
		return rules
	}
	return append(rules, r)
}

func groupsPhrase(owner string, groups []string) string {
	if owner != "" {
		owner += " "
	}
	if len(groups) == 1 {
		return owner + "security group " + groups[0]
	}
	return owner + "security groups " + strings.Join(groups, ", ")
}

func placementPhrase(s *Service, pl Placement) string {
	where := "service " + s.ID + "'s tasks"
	if pl.Where != "tasks" {
		where = "service " + s.ID + "'s instances in " + pl.Where
	}
	if len(pl.SecurityGroups) == 0 {
		return where + ", which have no security group"
	}
	return groupsPhrase("", pl.SecurityGroups) + " (" + where + ")"
}

func (a *analysis) sort() {
	byID := func(x, y string) int { return strings.Compare(x, y) }
	slices.SortFunc(a.r.LoadBalancers, func(x, y *LoadBalancer) int { return byID(x.ID, y.ID) })
	slices.SortFunc(a.r.Listeners, func(x, y *Listener) int {
		return cmp.Or(byID(x.LoadBalancer, y.LoadBalancer), cmp.Compare(x.Port, y.Port), byID(x.ID, y.ID))
	})
	slices.SortFunc(a.r.TargetGroups, func(x, y *TargetGroup) int { return byID(x.ID, y.ID) })
	slices.SortFunc(a.r.Services, func(x, y *Service) int { return byID(x.ID, y.ID) })
	slices.SortFunc(a.r.Endpoints, func(x, y *Endpoint) int { return byID(x.ID, y.ID) })
	slices.SortFunc(a.r.SecurityGroups, func(x, y *SecurityGroup) int { return byID(x.ID, y.ID) })
	slices.SortStableFunc(a.r.Paths, func(x, y *Path) int {
		return cmp.Or(byID(x.Listener.LoadBalancer, y.Listener.LoadBalancer), cmp.Compare(x.Listener.Port, y.Listener.Port), byID(x.Listener.ID, y.Listener.ID))
	})
	for _, rules := range [][]*Rule{a.r.Ingress, a.r.Egress} {
		slices.SortFunc(rules, compareRules)
	}
	for _, p := range a.r.Paths {
		for _, rules := range [][]*Rule{p.Clients, p.Egress, p.Ingress} {
			slices.SortFunc(rules, compareRules)
		}
	}
	slices.Sort(a.r.Warnings)
	slices.Sort(a.r.UnreachedServices)
}

func compareRules(x, y *Rule) int {
	return cmp.Or(strings.Compare(x.Group, y.Group), strings.Compare(x.Protocol, y.Protocol),
		cmp.Compare(x.Ports.From, y.Ports.From), cmp.Compare(x.Ports.To, y.Ports.To),
		strings.Compare(string(x.Peer.Kind), string(y.Peer.Kind)), strings.Compare(x.Peer.ID, y.Peer.ID),
		strings.Compare(x.Origin, y.Origin))
}
