package reach

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
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

func (a *analysis) readSecurityGroups() {
	sgs := a.t.OfType(cfn.TypeSecurityGroup)
	for _, r := range sgs {
		g := a.group(r.ID)
		g.Description, _ = cfn.Literal(r.Props["GroupDescription"])
		if name, ok := cfn.Literal(r.Props["GroupName"]); ok {
			a.names[name] = r.ID
		}
		a.groupVPC[r.ID] = r.Props["VpcId"]
	}
	for _, r := range sgs {
		for i, e := range cfn.List(r.Props["SecurityGroupIngress"]) {
			a.addRule(Ingress, r.ID, cfn.Object(e), fmt.Sprintf("%s.SecurityGroupIngress[%d]", r.ID, i))
		}
		egress := cfn.List(r.Props["SecurityGroupEgress"])
		for i, e := range egress {
			a.addRule(Egress, r.ID, cfn.Object(e), fmt.Sprintf("%s.SecurityGroupEgress[%d]", r.ID, i))
		}
		// EC2 adds its allow-all rule to a group created without egress
		// rules, and only then; CloudFormation creates the group with its
		// inline rules, before any separate AWS::EC2::SecurityGroupEgress.
		if len(egress) == 0 {
			a.groups[r.ID].DefaultEgress = true
			rule := &Rule{Direction: Egress, Group: r.ID, Protocol: "all", Ports: AllPorts, Implicit: true,
				Peer: Peer{Kind: PeerIPv4, ID: "0.0.0.0/0", Prefix: netip.MustParsePrefix("0.0.0.0/0")}}
			a.rules[Egress][r.ID] = append(a.rules[Egress][r.ID], rule)
			a.r.Egress = append(a.r.Egress, rule)
		}
	}
	for _, r := range a.t.OfType(cfn.TypeIngress) {
		var group string
		switch {
		case r.Props["GroupId"] != nil:
			group = a.groupKey(r.Props["GroupId"])
		case r.Props["GroupName"] != nil:
			name, ok := cfn.Literal(r.Props["GroupName"])
			if !ok {
				a.warnf("%s: GroupName %s is not a literal", r.ID, cfn.Render(r.Props["GroupName"]))
				continue
			}
			group = a.groupNamed(name)
		default:
			a.warnf("%s names no security group (GroupId or GroupName)", r.ID)
			continue
		}
		a.addRule(Ingress, group, r.Props, r.ID)
	}
	for _, r := range a.t.OfType(cfn.TypeEgress) {
		if r.Props["GroupId"] == nil {
			a.warnf("%s names no security group (GroupId)", r.ID)
			continue
		}
		a.addRule(Egress, a.groupKey(r.Props["GroupId"]), r.Props, r.ID)
	}
}

// placeholder is the destination of egress rules that exist only to keep
// EC2 from adding its allow-all rule: aws-cdk-lib's (ICMP type 252 code 86)
// and the passthrough constructs' (code 0). 255.255.255.255 is the limited
// broadcast address, which never leaves the subnet, so a rule to it lets no
// traffic out.
var placeholder = netip.MustParsePrefix("255.255.255.255/32")

// addRule reads one rule, inline or from a separate resource.
func (a *analysis) addRule(dir Direction, group string, m map[string]any, origin string) {
	if m == nil {
		a.warnf("%s is not an object", origin)
		return
	}
	proto, ok := protocolOf(m["IpProtocol"])
	if !ok {
		a.warnf("%s: IpProtocol %s is not a literal protocol", origin, cfn.Render(m["IpProtocol"]))
		return
	}
	ports, err := portsOf(proto, m)
	if err != "" {
		a.warnf("%s: %s", origin, err)
		return
	}
	peer, n := a.peerOf(dir, m)
	switch {
	case n == 0:
		a.warnf("%s names no peer, so EC2 adds no rule", origin)
		return
	case n > 1:
		a.warnf("%s names more than one peer, which CloudFormation rejects; read as %s", origin, peer)
	}
	if dir == Egress && peer.Prefix == placeholder {
		return
	}
	desc, _ := cfn.Literal(m["Description"])
	rule := &Rule{Direction: dir, Group: group, Peer: peer, Protocol: proto, Ports: ports, Origin: origin, Description: desc}
	a.rules[dir][group] = append(a.rules[dir][group], rule)
	if dir == Ingress {
		a.r.Ingress = append(a.r.Ingress, rule)
	} else {
		a.r.Egress = append(a.r.Egress, rule)
	}
}

// protocolOf normalizes IpProtocol, which may be a name or an IANA number,
// in a string or a number.
func protocolOf(v any) (string, bool) {
	var s string
	switch x := v.(type) {
	case string:
		s = strings.ToLower(strings.TrimSpace(x))
	case float64:
		s = strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return "", false
	}
	switch s {
	case "tcp", "6":
		return "tcp", true
	case "udp", "17":
		return "udp", true
	case "icmp", "1":
		return "icmp", true
	case "icmpv6", "58":
		return "icmpv6", true
	case "-1", "all":
		return "all", true
	}
	return s, s != ""
}

// portsOf reads FromPort and ToPort. A tcp or udp rule without them, or
// with -1, is read as all ports: the widest meaning, so that such a rule is
// never taken to admit less than it might.
func portsOf(proto string, m map[string]any) (PortRange, string) {
	if proto == "all" {
		return AllPorts, ""
	}
	from, to := -1, -1
	if v, ok := m["FromPort"]; ok {
		n, ok := cfn.Integer(v)
		if !ok {
			return PortRange{}, "FromPort " + cfn.Render(v) + " is not a literal number"
		}
		from = n
	}
	if v, ok := m["ToPort"]; ok {
		n, ok := cfn.Integer(v)
		if !ok {
			return PortRange{}, "ToPort " + cfn.Render(v) + " is not a literal number"
		}
		to = n
	}
	if proto != "tcp" && proto != "udp" {
		return PortRange{from, to}, ""
	}
	if from == -1 && to == -1 {
		return AllPorts, ""
	}
	if from < 0 || to < from || to > 65535 {
		return PortRange{}, fmt.Sprintf("port range %d-%d is not valid", from, to)
	}
	return PortRange{from, to}, ""
}

// peerOf reads a rule's peer and says how many peers the rule names.
func (a *analysis) peerOf(dir Direction, m map[string]any) (Peer, int) {
	var peers []Peer
	if v, ok := m["CidrIp"]; ok {
		peers = append(peers, a.cidr(v, PeerIPv4))
	}
	if v, ok := m["CidrIpv6"]; ok {
		peers = append(peers, a.cidr(v, PeerIPv6))
	}
	groupField, listField := "SourceSecurityGroupId", "SourcePrefixListId"
	if dir == Egress {
		groupField, listField = "DestinationSecurityGroupId", "DestinationPrefixListId"
	}
	if v, ok := m[groupField]; ok {
		peers = append(peers, Peer{Kind: PeerGroup, ID: a.groupKey(v)})
	}
	if v, ok := m["SourceSecurityGroupName"]; ok && dir == Ingress {
		name, isLiteral := cfn.Literal(v)
		if !isLiteral {
			name = cfn.Render(v)
		}
		peers = append(peers, Peer{Kind: PeerGroup, ID: a.groupNamed(name)})
	}
	if v, ok := m[listField]; ok {
		peers = append(peers, Peer{Kind: PeerPrefixList, ID: a.t.Key(v, "PrefixListId")})
	}
	if len(peers) == 0 {
		return Peer{}, 0
	}
	return peers[0], len(peers)
}

// cidr reads a CIDR peer. A reference to the CidrBlock of a VPC in the
// template is resolved to that CidrBlock when it is a literal.
func (a *analysis) cidr(v any, kind PeerKind) Peer {
	if id, ok := a.t.RefTarget(v, "CidrBlock"); ok {
		if vpc := a.t.Resource(id, cfn.TypeVPC); vpc != nil {
			if s, ok := cfn.Literal(vpc.Props["CidrBlock"]); ok {
				v = s
			}
		}
	}
	s, ok := cfn.Literal(v)
	if !ok {
		return Peer{Kind: kind, ID: cfn.Render(v)}
	}
	p := Peer{Kind: kind, ID: s}
	if prefix, err := netip.ParsePrefix(s); err == nil {
		p.Prefix = prefix.Masked()
	}
	return p
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
		if tg.Protocol == "TCP" || tg.Protocol == "TLS" {
			for _, attr := range cfn.List(r.Props["TargetGroupAttributes"]) {
				attr := cfn.Object(attr)
				if attr["Key"] == "preserve_client_ip.enabled" {
					if v, ok := cfn.Literal(attr["Value"]); ok {
						tg.PreserveClientIP = v == "true"
					}
				}
			}
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

// serviceName is a service's logical ID without aws-cdk-lib's hash and a
// trailing "Service", the name people gave the construct.
func serviceName(id string) string {
	name := cfn.ShortName(id)
	if trimmed := strings.TrimSuffix(name, "Service"); trimmed != "" {
		return trimmed
	}
	return name
}

func (a *analysis) readServices() {
	for _, r := range a.t.OfType(cfn.TypeService) {
		s := &Service{ID: r.ID, Name: serviceName(r.ID), Cluster: "default"}
		if v, ok := r.Props["Cluster"]; ok {
			s.Cluster = a.t.Key(v, "Arn")
		}
		td := a.t.Resource(a.t.Key(r.Props["TaskDefinition"]), cfn.TypeTaskDefinition)
		if td == nil && r.Props["TaskDefinition"] != nil {
			a.warnf("%s: task definition %s is not in the template", r.ID, cfn.Render(r.Props["TaskDefinition"]))
		}
		strategy := cfn.List(r.Props["CapacityProviderStrategy"])
		s.Launch, _ = cfn.Literal(r.Props["LaunchType"])
		if s.Launch == "" && len(strategy) == 0 {
			strategy = a.defaultStrategy(s.Cluster)
		}
		if s.Launch == "" {
			s.Launch = "EC2"
			for _, item := range strategy {
				if name, _ := cfn.Literal(cfn.Object(item)["CapacityProvider"]); strings.HasPrefix(name, "FARGATE") {
					s.Launch = "FARGATE"
				}
			}
		}
		awsvpc := cfn.Object(cfn.Object(r.Props["NetworkConfiguration"])["AwsvpcConfiguration"])
		s.NetworkMode = "bridge"
		if td != nil && td.Props["NetworkMode"] != nil {
			s.NetworkMode, _ = cfn.Literal(td.Props["NetworkMode"])
		} else if awsvpc != nil || s.Launch == "FARGATE" {
			s.NetworkMode = "awsvpc"
		}

		var wiring []Failure
		if s.NetworkMode == "awsvpc" {
			groups := a.groupKeys(awsvpc["SecurityGroups"])
			if len(groups) == 0 {
				wiring = append(wiring, Failure{HopWiring, fmt.Sprintf("service %s names no security group for its tasks, so ECS gives them the VPC's default security group", r.ID)})
			}
			var vpc any
			if len(groups) > 0 {
				vpc = a.groupVPC[groups[0]]
			}
			s.Placements = []Placement{{Where: "tasks", SecurityGroups: groups, addrs: a.subnetAddrs(cfn.List(awsvpc["Subnets"]), vpc)}}
		} else {
			var reason string
			s.Placements, reason = a.instancePlacements(s, strategy)
			if reason != "" {
				wiring = append(wiring, Failure{HopWiring, reason})
			}
		}
		a.r.Services = append(a.r.Services, s)

		for _, att := range cfn.ServiceAttachments(r) {
			reg := &registration{svc: s, targetGroup: a.t.Key(att.TargetGroupArn), container: att.Container, port: att.Port, failures: slices.Clone(wiring)}
			ports, failure := a.targetPorts(s, td, reg.container, reg.port)
			reg.targetPorts = ports
			if failure != "" {
				reg.failures = append(reg.failures, Failure{HopWiring, failure})
			}
			a.regs = append(a.regs, reg)
		}
	}
}

// refersTo reports whether v refers to the resource id anywhere, through Ref
// or Fn::GetAtt: user data that writes ECS_CLUSTER from the cluster's Ref
// registers its instances with that cluster.
func refersTo(v any, id string) bool {
	return slices.ContainsFunc(cfn.Refs(v), func(r cfn.Ref) bool { return r.ID == id })
}

// targetPorts is the port range that a service's targets receive traffic
// for container:port on.
func (a *analysis) targetPorts(s *Service, td *cfn.Resource, container string, port int) (PortRange, string) {
	if td == nil {
		if s.NetworkMode == "awsvpc" {
			return Port(port), ""
		}
		return dynamicRange(s), ""
	}
	var def map[string]any
	for _, c := range cfn.List(td.Props["ContainerDefinitions"]) {
		if name, _ := cfn.Literal(cfn.Object(c)["Name"]); name == container {
			def = cfn.Object(c)
		}
	}
	if def == nil {
		return Port(port), fmt.Sprintf("task definition %s has no container %q", td.ID, container)
	}
	for _, pm := range cfn.List(def["PortMappings"]) {
		pm := cfn.Object(pm)
		if cp, _ := cfn.Integer(pm["ContainerPort"]); cp != port {
			continue
		}
		host, hasHost := cfn.Integer(pm["HostPort"])
		switch s.NetworkMode {
		case "awsvpc":
			return Port(port), ""
		case "host":
			if hasHost && host != 0 {
				return Port(host), ""
			}
			return Port(port), ""
		}
		if hasHost && host != 0 {
			return Port(host), ""
		}
		return dynamicRange(s), ""
	}
	return Port(port), fmt.Sprintf("container %q of task definition %s maps no container port %d", container, td.ID, port)
}

// dynamicRange is the range of dynamic host ports on any instance a
// bridge-mode service may run on.
func dynamicRange(s *Service) PortRange {
	r := DynamicPorts
	for i, p := range s.Placements {
		if i == 0 {
			r = p.dynamic
			continue
		}
		r = PortRange{min(r.From, p.dynamic.From), max(r.To, p.dynamic.To)}
	}
	return r
}

// defaultStrategy is the cluster's default capacity provider strategy,
// which ECS uses for services with neither a launch type nor a strategy.
func (a *analysis) defaultStrategy(cluster string) []any {
	for _, r := range a.t.OfType(cfn.TypeClusterAssociations) {
		if a.t.Key(r.Props["Cluster"], "Arn") == cluster {
			if s := cfn.List(r.Props["DefaultCapacityProviderStrategy"]); len(s) > 0 {
				return s
			}
		}
	}
	if c := a.t.Resource(cluster, cfn.TypeCluster); c != nil {
		return cfn.List(c.Props["DefaultCapacityProviderStrategy"])
	}
	return nil
}

// instancePlacements finds the container instances a bridge or host
// service's tasks may run on: the Auto Scaling groups of the capacity
// providers in its strategy or, with the EC2 launch type, every group whose
// instances join its cluster (through a capacity provider associated with
// the cluster, or user data that writes the cluster into ECS_CLUSTER).
func (a *analysis) instancePlacements(s *Service, strategy []any) ([]Placement, string) {
	var asgs []string
	add := func(id string) {
		if !slices.Contains(asgs, id) {
			asgs = append(asgs, id)
		}
	}
	if len(strategy) > 0 {
		for _, item := range strategy {
			v := cfn.Object(item)["CapacityProvider"]
			if name, _ := cfn.Literal(v); strings.HasPrefix(name, "FARGATE") {
				continue
			}
			cp := a.capacityProvider(v)
			if cp == nil {
				return nil, fmt.Sprintf("capacity provider %s of service %s is not in the template, so its instances' security groups are unknown", cfn.Render(v), s.ID)
			}
			add(a.t.Key(cfn.Object(cp.Props["AutoScalingGroupProvider"])["AutoScalingGroupArn"]))
		}
	} else {
		var providers []any
		for _, r := range a.t.OfType(cfn.TypeClusterAssociations) {
			if a.t.Key(r.Props["Cluster"], "Arn") == s.Cluster {
				providers = append(providers, cfn.List(r.Props["CapacityProviders"])...)
			}
		}
		if c := a.t.Resource(s.Cluster, cfn.TypeCluster); c != nil {
			providers = append(providers, cfn.List(c.Props["CapacityProviders"])...)
		}
		for _, v := range providers {
			if cp := a.capacityProvider(v); cp != nil {
				add(a.t.Key(cfn.Object(cp.Props["AutoScalingGroupProvider"])["AutoScalingGroupArn"]))
			}
		}
		for _, asg := range a.t.OfType(cfn.TypeAutoScalingGroup) {
			if _, userData := a.launchConfig(asg); a.t.Lookup(s.Cluster) != nil && refersTo(userData, s.Cluster) {
				add(asg.ID)
			}
		}
	}
	if len(asgs) == 0 {
		return nil, fmt.Sprintf("no Auto Scaling group in the template runs the container instances of cluster %s for service %s", s.Cluster, s.ID)
	}
	slices.Sort(asgs)
	var out []Placement
	for _, id := range asgs {
		asg := a.t.Resource(id, cfn.TypeAutoScalingGroup)
		if asg == nil {
			return nil, fmt.Sprintf("Auto Scaling group %s of service %s is not in the template, so its instances' security groups are unknown", id, s.ID)
		}
		groups, userData := a.launchConfig(asg)
		if len(groups) == 0 {
			return nil, fmt.Sprintf("the launch template of Auto Scaling group %s names no security group, so service %s's instances get the VPC's default security group", id, s.ID)
		}
		p := Placement{Where: id, SecurityGroups: groups, dynamic: DynamicPorts}
		var vpc any = a.groupVPC[groups[0]]
		p.addrs = a.subnetAddrs(cfn.List(asg.Props["VPCZoneIdentifier"]), vpc)
		if r, ok := hostPortRange(cfn.JoinedLiterals(userData)); ok {
			p.dynamic = r
		}
		out = append(out, p)
	}
	return out, ""
}

func (a *analysis) capacityProvider(v any) *cfn.Resource {
	if id, ok := a.t.RefTarget(v); ok {
		return a.t.Resource(id, cfn.TypeCapacityProvider)
	}
	if name, ok := cfn.Literal(v); ok {
		for _, r := range a.t.OfType(cfn.TypeCapacityProvider) {
			if n, _ := cfn.Literal(r.Props["Name"]); n == name {
				return r
			}
		}
	}
	return nil
}

// launchConfig returns the security groups and user data an Auto Scaling
// group launches its instances with, from its launch template (directly or
// in a mixed instances policy) or launch configuration.
func (a *analysis) launchConfig(asg *cfn.Resource) (groups []string, userData any) {
	spec := cfn.Object(asg.Props["LaunchTemplate"])
	if spec == nil {
		spec = cfn.Object(cfn.Object(cfn.Object(asg.Props["MixedInstancesPolicy"])["LaunchTemplate"])["LaunchTemplateSpecification"])
	}
	if spec != nil {
		lt := a.launchTemplate(spec)
		if lt == nil {
			return nil, nil
		}
		data := cfn.Object(lt.Props["LaunchTemplateData"])
		groups = a.groupKeys(data["SecurityGroupIds"])
		for _, v := range cfn.List(data["SecurityGroups"]) {
			if name, ok := cfn.Literal(v); ok {
				groups = append(groups, a.groupNamed(name))
			}
		}
		for _, ni := range cfn.List(data["NetworkInterfaces"]) {
			groups = append(groups, a.groupKeys(cfn.Object(ni)["Groups"])...)
		}
		return groups, data["UserData"]
	}
	if id, ok := a.t.RefTarget(asg.Props["LaunchConfigurationName"]); ok {
		if lc := a.t.Resource(id, cfn.TypeLaunchConfiguration); lc != nil {
			return a.groupKeys(lc.Props["SecurityGroups"]), lc.Props["UserData"]
		}
	}
	return nil, nil
}

func (a *analysis) launchTemplate(spec map[string]any) *cfn.Resource {
	if id, ok := a.t.RefTarget(spec["LaunchTemplateId"]); ok {
		return a.t.Resource(id, cfn.TypeLaunchTemplate)
	}
	if id, ok := a.t.RefTarget(spec["LaunchTemplateName"]); ok {
		return a.t.Resource(id, cfn.TypeLaunchTemplate)
	}
	if name, ok := cfn.Literal(spec["LaunchTemplateName"]); ok {
		for _, r := range a.t.OfType(cfn.TypeLaunchTemplate) {
			if n, _ := cfn.Literal(r.Props["LaunchTemplateName"]); n == name {
				return r
			}
		}
	}
	return nil
}

var hostPortSetting = regexp.MustCompile(`ECS_DYNAMIC_HOST_PORT_RANGE=(\d+)-(\d+)`)

// hostPortRange reads ECS_DYNAMIC_HOST_PORT_RANGE from user data.
func hostPortRange(userData string) (PortRange, bool) {
	m := hostPortSetting.FindStringSubmatch(userData)
	if m == nil {
		return PortRange{}, false
	}
	from, _ := strconv.Atoi(m[1])
	to, _ := strconv.Atoi(m[2])
	return PortRange{from, to}, from <= to
}
