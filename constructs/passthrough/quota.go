package passthrough

import "github.com/aws/aws-cdk-go/awscdk/v2/awsec2"

// ingressRules are the inbound rules of a load balancer's security group:
// whom its listener ports admit, and how many rules per address family
// count against MaxIngressRules.
type ingressRules struct {
	clients []awsec2.IPeer   // AllowedClients
	private map[float64]bool // PrivateListenerPorts, which admit no client
	count   ruleCount
	// counted holds the rules already counted, by peer and port, because
	// aws-cdk-lib adds an identical rule only once.
	counted map[string]bool
}

// clientRules counts the rules that admit the allowed clients to one
// listener port.
func (in *ingressRules) clientRules(port float64) ruleCount {
	var n ruleCount
	if in.private[port] {
		return n
	}
	for _, peer := range in.clients {
		n = n.add(rulesOf(peer))
	}
	return n
}

// ruleCount is a number of security group rules per address family.
type ruleCount struct{ v4, v6 int }

func (c ruleCount) add(o ruleCount) ruleCount { return ruleCount{c.v4 + o.v4, c.v6 + o.v6} }

// rulesOf is what one rule admitting peer counts against the quota: an IPv4
// or IPv6 range counts in its family, a security group or prefix list in
// both.
func rulesOf(peer awsec2.IPeer) ruleCount {
	cfg := peer.ToIngressRuleConfig()
	switch {
	case cfg.CidrIp != nil:
		return ruleCount{v4: 1}
	case cfg.CidrIpv6 != nil:
		return ruleCount{v6: 1}
	}
	return ruleCount{v4: 1, v6: 1}
}

// reserveIngress counts a rule admitting peer on port against the quota of
// the load balancer's security group, and reports it under prop if the rule
// would exceed it. A rule already counted is free: aws-cdk-lib adds it once.
func (lb *LoadBalancer) reserveIngress(v *validator, prop, value string, peer awsec2.IPeer, port *float64) {
	key := *peer.UniqueId() + " " + formatNumber(*port)
	if lb.ingress.counted[key] {
		return
	}
	rules := lb.ingress.count.add(rulesOf(peer))
	if rules.v4 > MaxIngressRules || rules.v6 > MaxIngressRules {
		v.failf(prop, value, "would bring the security group of load balancer %s to %d inbound rules (IPv4) and %d (IPv6), over the default quota of %d per family", *lb.Node().Path(), rules.v4, rules.v6, MaxIngressRules)
		return
	}
	if v.err != nil {
		return
	}
	lb.ingress.counted[key] = true
	lb.ingress.count = rules
}
