package reach

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/passthrough-cdk/passthrough/internal/cfn"
)

// analysis holds the model while Analyze builds it.
type analysis struct {
	t *cfn.Template
	r *Report

	groups map[string]*SecurityGroup
	// names maps the GroupName of groups in the template to their logical
	// IDs, for rules that name groups (SourceSecurityGroupName, GroupName).
	names map[string]string
	// groupVPC is the VpcId of each group in the template.
	groupVPC map[string]any
	rules    map[Direction]map[string][]*Rule

	lbs  map[string]*LoadBalancer
	tgs  map[string]*TargetGroup
	regs []*registration
}

// registration is one entry of a service's LoadBalancers: the service's
// targets in one target group.
type registration struct {
	svc         *Service
	targetGroup string
	container   string
	port        int
	targetPorts PortRange
	failures    []Failure
}

func newAnalysis(t *cfn.Template) *analysis {
	return &analysis{
		t:        t,
		r:        &Report{},
		groups:   map[string]*SecurityGroup{},
		names:    map[string]string{},
		groupVPC: map[string]any{},
		rules:    map[Direction]map[string][]*Rule{Ingress: {}, Egress: {}},
		lbs:      map[string]*LoadBalancer{},
		tgs:      map[string]*TargetGroup{},
	}
}

func (a *analysis) warnf(format string, args ...any) {
	a.r.Warnings = append(a.r.Warnings, fmt.Sprintf(format, args...))
}

// group returns the security group with key id, adding a group defined
// outside the template the first time one is referred to.
func (a *analysis) group(id string) *SecurityGroup {
	if g := a.groups[id]; g != nil {
		return g
	}
	g := &SecurityGroup{ID: id, InTemplate: a.t.Resource(id, cfn.TypeSecurityGroup) != nil}
	a.groups[id] = g
	a.r.SecurityGroups = append(a.r.SecurityGroups, g)
	return g
}

// groupKey names the security group v refers to. Ref of an
// AWS::EC2::SecurityGroup is its ID, like Fn::GetAtt GroupId.
func (a *analysis) groupKey(v any) string {
	id := a.t.Key(v, "GroupId")
	a.group(id)
	return id
}

// groupNamed names the group whose GroupName is name.
func (a *analysis) groupNamed(name string) string {
	id, ok := a.names[name]
	if !ok {
		id = "name:" + name
	}
	a.group(id)
	return id
}

func (a *analysis) groupKeys(v any) []string {
	var out []string
	for _, e := range cfn.List(v) {
		out = append(out, a.groupKey(e))
	}
	return out
}

// addrs is a set of addresses, known as the subnets they are in, so that
// the analysis can tell whether an address-based rule covers a load
// balancer's nodes or a service's targets.
type addrs struct {
	prefixes []netip.Prefix
	// exprs are CIDR blocks the analysis cannot evaluate, such as an
	// imported VPC's; a rule written with the same expression covers them.
	exprs []string
}

// coveredBy reports whether every address of s is in p's range.
func (s addrs) coveredBy(p Peer) bool {
	if p.Kind != PeerIPv4 {
		return false
	}
	if p.AnyAddress() {
		return true
	}
	if p.Prefix.IsValid() && len(s.prefixes) > 0 {
		for _, q := range s.prefixes {
			if q.Bits() < p.Prefix.Bits() || !p.Prefix.Contains(q.Addr()) {
				return false
			}
		}
		return true
	}
	return slices.Contains(s.exprs, p.ID)
}

// contains reports whether p's addresses are all in s: an address-based
// rule for clients inside a VPC.
func (s addrs) contains(p Peer) bool {
	if p.Kind != PeerIPv4 {
		return false
	}
	if p.Prefix.IsValid() {
		for _, q := range s.prefixes {
			if q.Bits() <= p.Prefix.Bits() && q.Contains(p.Prefix.Addr()) {
				return true
			}
		}
		return false
	}
	return slices.Contains(s.exprs, p.ID)
}

// subnetAddrs is the address set of subnets, or of the VPC when no subnet's
// CidrBlock is known.
func (a *analysis) subnetAddrs(subnets []any, vpc any) addrs {
	var s addrs
	for _, v := range subnets {
		id, ok := a.t.RefTarget(v, "SubnetId")
		if !ok {
			continue
		}
		r := a.t.Resource(id, cfn.TypeSubnet)
		if r == nil {
			continue
		}
		if c, ok := cfn.Literal(r.Props["CidrBlock"]); ok {
			if p, err := netip.ParsePrefix(c); err == nil {
				s.prefixes = append(s.prefixes, p.Masked())
				continue
			}
		}
		if vpc == nil {
			vpc = r.Props["VpcId"]
		}
	}
	if len(s.prefixes) > 0 || vpc == nil {
		return s
	}
	if id, ok := a.t.RefTarget(vpc, "VpcId"); ok {
		if r := a.t.Resource(id, cfn.TypeVPC); r != nil {
			if c, ok := cfn.Literal(r.Props["CidrBlock"]); ok {
				if p, err := netip.ParsePrefix(c); err == nil {
					s.prefixes = append(s.prefixes, p.Masked())
					return s
				}
			}
			s.exprs = append(s.exprs, cfn.Render(map[string]any{"Fn::GetAtt": []any{id, "CidrBlock"}}))
		}
	}
	return s
}

// readLoadBalancers reads load balancers, their listeners and target groups.
func (a *analysis) readLoadBalancers() {
	for _, r := range a.t.OfType(cfn.TypeLoadBalancer) {
		lb := &LoadBalancer{ID: r.ID, Type: "application", InternetFacing: true}
		if typ, ok := cfn.Literal(r.Props["Type"]); ok {
			lb.Type = typ
		}
		if scheme, ok := cfn.Literal(r.Props["Scheme"]); ok {
			lb.InternetFacing = scheme != "internal"
		}
		lb.SecurityGroups = a.groupKeys(r.Props["SecurityGroups"])
		subnets := cfn.List(r.Props["Subnets"])
		for _, m := range cfn.List(r.Props["SubnetMappings"]) {
			subnets = append(subnets, cfn.Object(m)["SubnetId"])
		}
		var vpc any
		if len(lb.SecurityGroups) > 0 {
			vpc = a.groupVPC[lb.SecurityGroups[0]]
		}
		lb.nodes = a.subnetAddrs(subnets, vpc)
		lb.FiltersPrivateLink = true
		if v, ok := cfn.Literal(r.Props["EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic"]); ok {
			lb.FiltersPrivateLink = v != "off"
		}
		a.lbs[r.ID] = lb
		a.r.LoadBalancers = append(a.r.LoadBalancers, lb)
	}
	for _, r := range a.t.OfType(cfn.TypeListener) {
		l := &Listener{ID: r.ID, LoadBalancer: a.t.Key(r.Props["LoadBalancerArn"])}
		l.Protocol, _ = cfn.Literal(r.Props["Protocol"])
		if port, ok := cfn.Integer(r.Props["Port"]); ok {
			l.Port = port
		} else {
			a.warnf("%s: Port %s is not a literal number", r.ID, cfn.Render(r.Props["Port"]))
		}
		l.TargetGroups = a.t.ListenerTargetGroups(r)
		a.r.Listeners = append(a.r.Listeners, l)
	}
	for _, r := range a.t.OfType(cfn.TypeTargetGroup) {
		tg := &TargetGroup{ID: r.ID, TargetType: "instance", HealthCheckPort: "traffic-port"}
		tg.Port, _ = cfn.Integer(r.Props["Port"])
		tg.Protocol, _ = cfn.Literal(r.Props["Protocol"])
		if v, ok := cfn.Literal(r.Props["TargetType"]); ok {
			tg.TargetType = v
		}
		if v, ok := r.Props["HealthCheckPort"]; ok {
			tg.HealthCheckPort = cfn.Render(v)
		}
		tg.PreserveClientIP = tg.TargetType == "instance" || strings.HasPrefix(tg.Protocol, "UDP") || tg.Protocol == "TCP_UDP"
		if v, ok := cfn.Literal(cfn.Attributes(r)["preserve_client_ip.enabled"]); ok && (tg.Protocol == "TCP" || tg.Protocol == "TLS") {
			tg.PreserveClientIP = v == "true"
		}
		tg.StaticTargets = len(cfn.List(r.Props["Targets"])) > 0
		a.tgs[r.ID] = tg
		a.r.TargetGroups = append(a.r.TargetGroups, tg)
	}
}

// readEndpoints reads VPC endpoint services, which expose load balancers
// through PrivateLink, and interface VPC endpoints, whose security groups
// admit the VPC's workloads.
func (a *analysis) readEndpoints() {
	for _, r := range a.t.OfType(cfn.TypeEndpointService) {
		for _, v := range cfn.List(r.Props["NetworkLoadBalancerArns"]) {
			if lb := a.lbs[a.t.Key(v)]; lb != nil {
				lb.EndpointServices = append(lb.EndpointServices, r.ID)
			}
		}
	}
	for _, r := range a.t.OfType(cfn.TypeVPCEndpoint) {
		// CloudFormation's default type is Gateway, which has no network
		// interfaces and no security groups.
		if typ, _ := cfn.Literal(r.Props["VpcEndpointType"]); typ != "Interface" {
			continue
		}
		e := &Endpoint{ID: r.ID, Service: cfn.Render(r.Props["ServiceName"]), SecurityGroups: a.groupKeys(r.Props["SecurityGroupIds"])}
		e.vpc = a.subnetAddrs(nil, r.Props["VpcId"])
		a.r.Endpoints = append(a.r.Endpoints, e)
	}
}
