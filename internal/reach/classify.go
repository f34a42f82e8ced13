package reach

import (
	"fmt"
	"slices"
	"strings"
)

// endpointPort is the port interface VPC endpoints for AWS services accept
// connections on: their APIs are HTTPS only.
const endpointPort = 443

// demand is traffic something in the template needs a security group to
// allow.
type demand struct {
	dir   Direction
	group string
	proto string
	ports PortRange
	// id is the listener or endpoint the traffic is for, and user says so
	// in words ("listener X").
	id, user string
	// peer judges a rule's peer: "" when the traffic comes from (or goes
	// to) it, otherwise why the peer is not what is needed.
	peer func(Peer) string
}

// demands collects what each security group must allow: clients on listener
// ports into the load balancer's groups, the load balancer out to its
// targets, the targets admitting the load balancer on the ports they listen
// and answer health checks on, and interface VPC endpoints admitting their
// VPC on HTTPS.
func (a *analysis) demands() []demand {
	var out []demand
	for _, l := range a.r.Listeners {
		lb := a.lbs[l.LoadBalancer]
		if lb == nil {
			continue
		}
		clientPeer := func(p Peer) string {
			if p.AnyAddress() && !lb.InternetFacing {
				return fmt.Sprintf("admits any address (%s) to internal load balancer %s", p.ID, lb.ID)
			}
			return ""
		}
		for _, g := range lb.SecurityGroups {
			for _, proto := range listenerProtocols(l.Protocol) {
				out = append(out, demand{Ingress, g, proto, Port(l.Port), l.ID, "listener " + l.ID, clientPeer})
			}
		}
	}
	for _, p := range a.r.Paths {
		lb := p.LoadBalancer
		if p.Service == nil || lb == nil || p.TargetGroup == nil {
			continue
		}
		id, user := p.Listener.ID, "listener "+p.Listener.ID
		for _, pl := range p.Service.Placements {
			toTargets := func(peer Peer) string {
				if peer.Kind == PeerGroup && slices.Contains(pl.SecurityGroups, peer.ID) {
					return ""
				}
				return fmt.Sprintf("allows %s, where %s needs only %s", peer, p, groupsPhrase("the targets'", pl.SecurityGroups))
			}
			for _, need := range p.Needs {
				fromLB := func(peer Peer) string {
					if len(lb.SecurityGroups) == 0 {
						if a.admitsLoadBalancer(peer, p, need) {
							return ""
						}
						return fmt.Sprintf("admits %s, which is not load balancer %s", peer, lb.ID)
					}
					if peer.Kind == PeerGroup && slices.Contains(lb.SecurityGroups, peer.ID) {
						return ""
					}
					return fmt.Sprintf("admits %s, where %s needs only %s", peer, p, groupsPhrase("the load balancer's", lb.SecurityGroups))
				}
				for _, g := range lb.SecurityGroups {
					out = append(out, demand{Egress, g, need.Protocol, need.Ports, id, user, toTargets})
				}
				for _, g := range pl.SecurityGroups {
					out = append(out, demand{Ingress, g, need.Protocol, need.Ports, id, user, fromLB})
				}
			}
		}
	}
	for _, lb := range a.r.LoadBalancers {
		// Routers anywhere on a client's path send these, so any address
		// is the peer the message comes from.
		fromAnywhere := func(Peer) string { return "" }
		for _, m := range PathMTUMessages {
			if m.IPv6 && !lb.DualStack {
				continue
			}
			for _, g := range lb.SecurityGroups {
				out = append(out, demand{Ingress, g, m.Protocol, m.TypeCode, lb.ID, "path MTU discovery of load balancer " + lb.ID, fromAnywhere})
			}
		}
	}
	for _, e := range a.r.Endpoints {
		fromVPC := func(peer Peer) string {
			if peer.Kind == PeerGroup || e.vpc.contains(peer) {
				return ""
			}
			return fmt.Sprintf("admits %s, but VPC endpoint %s serves only its own VPC", peer, e.ID)
		}
		for _, g := range e.SecurityGroups {
			out = append(out, demand{Ingress, g, "tcp", Port(endpointPort), e.ID, "VPC endpoint " + e.ID, fromVPC})
		}
	}
	return out
}

// classify sets Serves and Unexplained on every ingress rule, and on the
// egress rules of load balancers' security groups.
func (a *analysis) classify() {
	lbGroups := map[string]bool{}
	for _, lb := range a.r.LoadBalancers {
		for _, g := range lb.SecurityGroups {
			lbGroups[g] = true
		}
	}
	demands := a.demands()
	for _, rule := range a.r.Ingress {
		judge(rule, demands)
	}
	for _, rule := range a.r.Egress {
		// Implicit egress is reported for its group; the egress of
		// workloads (to AWS APIs, databases) is theirs to decide.
		if lbGroups[rule.Group] && !rule.Implicit {
			judge(rule, demands)
		}
	}
}

// judge compares a rule with what the template needs from its group.
func judge(rule *Rule, demands []demand) {
	var ofGroup, peerOK, protoOK []demand
	// reason is why the peer is wrong for the group's demands; protoReason
	// why it is wrong for those of the rule's protocol, which says more.
	reason, protoReason := "", ""
	for _, d := range demands {
		if d.dir != rule.Direction || d.group != rule.Group {
			continue
		}
		ofGroup = append(ofGroup, d)
		if why := d.peer(rule.Peer); why != "" {
			if reason == "" {
				reason = why
			}
			if protoReason == "" && d.proto == rule.Protocol {
				protoReason = why
			}
			continue
		}
		peerOK = append(peerOK, d)
		if d.proto == rule.Protocol {
			protoOK = append(protoOK, d)
		}
	}
	switch {
	case len(ofGroup) == 0:
		way := "ingress to"
		if rule.Direction == Egress {
			way = "egress from"
		}
		rule.Unexplained = fmt.Sprintf("no listener path or VPC endpoint needs %s security group %s", way, rule.Group)
		return
	case len(peerOK) == 0:
		rule.Unexplained = reason
		return
	case rule.Protocol == "all":
		rule.Serves = users(peerOK, AllPorts)
		rule.Unexplained = "allows all traffic: " + needed(peerOK)
		return
	case len(protoOK) == 0 && protoReason != "":
		rule.Unexplained = protoReason
		return
	case len(protoOK) == 0:
		rule.Unexplained = describe(rule.Protocol, rule.Ports) + " not needed: " + needed(peerOK)
		return
	}
	if rule.Protocol == "icmp" || rule.Protocol == "icmpv6" {
		judgeICMP(rule, protoOK)
		return
	}
	var covered portSet
	for _, d := range protoOK {
		covered = covered.add(d.ports)
	}
	rule.Serves = users(protoOK, rule.Ports)
	if missing := covered.missing(rule.Ports); len(missing) > 0 {
		rule.Unexplained = fmt.Sprintf("%s %s not needed: %s", rule.Protocol, missing, needed(protoOK))
	}
}

// users are the listeners and endpoints of demands for ports overlapping r.
func users(ds []demand, r PortRange) []string {
	var out []string
	for _, d := range ds {
		if d.ports.From <= r.To && r.From <= d.ports.To {
			out = append(out, d.id)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// needed says what demands need and for whom: "only tcp 443 is needed, by
// listener ApiListener304FEC63".
func needed(ds []demand) string {
	var ports, who []string
	for _, d := range ds {
		ports = append(ports, describe(d.proto, d.ports))
		who = append(who, d.user)
	}
	slices.Sort(ports)
	ports = slices.Compact(ports)
	slices.Sort(who)
	verb := "is"
	if len(ports) > 1 {
		verb = "are"
	}
	return fmt.Sprintf("only %s %s needed, by %s", strings.Join(ports, ", "), verb, strings.Join(slices.Compact(who), ", "))
}

// PathMTUMessage is an ICMP message that path MTU discovery needs a load
// balancer's security group to admit.
type PathMTUMessage struct {
	// Protocol is "icmp" or "icmpv6".
	Protocol string
	// TypeCode holds the ICMP type (From) and code (To, -1 for any), as
	// security group rules write them in FromPort and ToPort.
	TypeCode PortRange
	// IPv6 messages are needed only by dual-stack load balancers.
	IPv6 bool
}

// PathMTUMessages are the messages a router sends back when a packet is
// larger than the next link's MTU: for IPv4, destination unreachable,
// fragmentation needed and don't fragment set (type 3, code 4); for IPv6,
// packet too big (type 2, whose one code receivers ignore). The Amazon EC2
// and VPC user guides name them (sections "Path MTU Discovery"), and the
// Elastic Load Balancing guide recommends admitting inbound ICMP to a
// Network Load Balancer's security group for path MTU discovery. A rule
// admitting exactly one of them, from any address, into a load balancer's
// group is explained; any other ICMP type or code is not.
var PathMTUMessages = []PathMTUMessage{
	{Protocol: "icmp", TypeCode: PortRange{3, 4}},
	{Protocol: "icmpv6", TypeCode: PortRange{2, -1}, IPv6: true},
}

// judgeICMP explains an ICMP rule by the messages that demands need: the
// rule's type must be a needed type and its code a needed code (a demand
// with code -1 takes any code of its type).
func judgeICMP(rule *Rule, ds []demand) {
	var serving []demand
	for _, d := range ds {
		if d.ports.From == rule.Ports.From && d.ports.From != -1 && (d.ports.To == -1 || d.ports.To == rule.Ports.To) {
			serving = append(serving, d)
		}
	}
	if len(serving) == 0 {
		rule.Unexplained = describe(rule.Protocol, rule.Ports) + " not needed: " + needed(ds)
		return
	}
	for _, d := range serving {
		rule.Serves = append(rule.Serves, d.id)
	}
	slices.Sort(rule.Serves)
	rule.Serves = slices.Compact(rule.Serves)
}
