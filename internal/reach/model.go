package reach

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// analysis holds the model while Analyze builds it.
type analysis struct {
	t *template
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

func newAnalysis(t *template) *analysis {
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
	g := &SecurityGroup{ID: id, InTemplate: a.t.resource(id, typeSecurityGroup) != nil}
	a.groups[id] = g
	a.r.SecurityGroups = append(a.r.SecurityGroups, g)
	return g
}

// groupKey names the security group v refers to. Ref of an
// AWS::EC2::SecurityGroup is its ID, like Fn::GetAtt GroupId.
func (a *analysis) groupKey(v any) string {
	id := a.t.key(v, "GroupId")
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
	for _, e := range list(v) {
		out = append(out, a.groupKey(e))
	}
	return out
}

func (a *analysis) readSecurityGroups() {
	sgs := a.t.ofType(typeSecurityGroup)
	for _, r := range sgs {
		g := a.group(r.id)
		g.Description, _ = literal(r.props["GroupDescription"])
		if name, ok := literal(r.props["GroupName"]); ok {
			a.names[name] = r.id
		}
		a.groupVPC[r.id] = r.props["VpcId"]
	}
	for _, r := range sgs {
		for i, e := range list(r.props["SecurityGroupIngress"]) {
			a.addRule(Ingress, r.id, object(e), fmt.Sprintf("%s.SecurityGroupIngress[%d]", r.id, i))
		}
		egress := list(r.props["SecurityGroupEgress"])
		for i, e := range egress {
			a.addRule(Egress, r.id, object(e), fmt.Sprintf("%s.SecurityGroupEgress[%d]", r.id, i))
		}
		// EC2 adds its allow-all rule to a group created without egress
		// rules, and only then; CloudFormation creates the group with its
		// inline rules, before any separate AWS::EC2::SecurityGroupEgress.
		if len(egress) == 0 {
			a.groups[r.id].DefaultEgress = true
			rule := &Rule{Direction: Egress, Group: r.id, Protocol: "all", Ports: AllPorts, Implicit: true,
				Peer: Peer{Kind: PeerIPv4, ID: "0.0.0.0/0", Prefix: netip.MustParsePrefix("0.0.0.0/0")}}
			a.rules[Egress][r.id] = append(a.rules[Egress][r.id], rule)
			a.r.Egress = append(a.r.Egress, rule)
		}
	}
	for _, r := range a.t.ofType(typeIngress) {
		var group string
		switch {
		case r.props["GroupId"] != nil:
			group = a.groupKey(r.props["GroupId"])
		case r.props["GroupName"] != nil:
			name, ok := literal(r.props["GroupName"])
			if !ok {
				a.warnf("%s: GroupName %s is not a literal", r.id, render(r.props["GroupName"]))
				continue
			}
			group = a.groupNamed(name)
		default:
			a.warnf("%s names no security group (GroupId or GroupName)", r.id)
			continue
		}
		a.addRule(Ingress, group, r.props, r.id)
	}
	for _, r := range a.t.ofType(typeEgress) {
		if r.props["GroupId"] == nil {
			a.warnf("%s names no security group (GroupId)", r.id)
			continue
		}
		a.addRule(Egress, a.groupKey(r.props["GroupId"]), r.props, r.id)
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
		a.warnf("%s: IpProtocol %s is not a literal protocol", origin, render(m["IpProtocol"]))
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
	desc, _ := literal(m["Description"])
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
		n, ok := integer(v)
		if !ok {
			return PortRange{}, "FromPort " + render(v) + " is not a literal number"
		}
		from = n
	}
	if v, ok := m["ToPort"]; ok {
		n, ok := integer(v)
		if !ok {
			return PortRange{}, "ToPort " + render(v) + " is not a literal number"
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
		name, isLiteral := literal(v)
		if !isLiteral {
			name = render(v)
		}
		peers = append(peers, Peer{Kind: PeerGroup, ID: a.groupNamed(name)})
	}
	if v, ok := m[listField]; ok {
		peers = append(peers, Peer{Kind: PeerPrefixList, ID: a.t.key(v, "PrefixListId")})
	}
	if len(peers) == 0 {
		return Peer{}, 0
	}
	return peers[0], len(peers)
}

// cidr reads a CIDR peer. A reference to the CidrBlock of a VPC in the
// template is resolved to that CidrBlock when it is a literal.
func (a *analysis) cidr(v any, kind PeerKind) Peer {
	if id, ok := a.t.refTarget(v, "CidrBlock"); ok {
		if vpc := a.t.resource(id, typeVPC); vpc != nil {
			if s, ok := literal(vpc.props["CidrBlock"]); ok {
				v = s
			}
		}
	}
	s, ok := literal(v)
	if !ok {
		return Peer{Kind: kind, ID: render(v)}
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
		id, ok := a.t.refTarget(v, "SubnetId")
		if !ok {
			continue
		}
		r := a.t.resource(id, typeSubnet)
		if r == nil {
			continue
		}
		if c, ok := literal(r.props["CidrBlock"]); ok {
			if p, err := netip.ParsePrefix(c); err == nil {
				s.prefixes = append(s.prefixes, p.Masked())
				continue
			}
		}
		if vpc == nil {
			vpc = r.props["VpcId"]
		}
	}
	if len(s.prefixes) > 0 || vpc == nil {
		return s
	}
	if id, ok := a.t.refTarget(vpc, "VpcId"); ok {
		if r := a.t.resource(id, typeVPC); r != nil {
			if c, ok := literal(r.props["CidrBlock"]); ok {
				if p, err := netip.ParsePrefix(c); err == nil {
					s.prefixes = append(s.prefixes, p.Masked())
					return s
				}
			}
			s.exprs = append(s.exprs, render(map[string]any{"Fn::GetAtt": []any{id, "CidrBlock"}}))
		}
	}
	return s
}

func (a *analysis) readLoadBalancers() {
	for _, r := range a.t.ofType(typeLoadBalancer) {
		lb := &LoadBalancer{ID: r.id, Type: "application", InternetFacing: true}
		if typ, ok := literal(r.props["Type"]); ok {
			lb.Type = typ
		}
		if scheme, ok := literal(r.props["Scheme"]); ok {
			lb.InternetFacing = scheme != "internal"
		}
		lb.SecurityGroups = a.groupKeys(r.props["SecurityGroups"])
		subnets := list(r.props["Subnets"])
		for _, m := range list(r.props["SubnetMappings"]) {
			subnets = append(subnets, object(m)["SubnetId"])
		}
		var vpc any
		if len(lb.SecurityGroups) > 0 {
			vpc = a.groupVPC[lb.SecurityGroups[0]]
		}
		lb.nodes = a.subnetAddrs(subnets, vpc)
		if v, ok := literal(r.props["IpAddressType"]); ok {
			lb.DualStack = strings.HasPrefix(v, "dualstack")
		}
		lb.FiltersPrivateLink = true
		if v, ok := literal(r.props["EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic"]); ok {
			lb.FiltersPrivateLink = v != "off"
		}
		a.lbs[r.id] = lb
		a.r.LoadBalancers = append(a.r.LoadBalancers, lb)
	}
	for _, r := range a.t.ofType(typeListener) {
		l := &Listener{ID: r.id, LoadBalancer: a.t.key(r.props["LoadBalancerArn"])}
		l.Protocol, _ = literal(r.props["Protocol"])
		if port, ok := integer(r.props["Port"]); ok {
			l.Port = port
		} else {
			a.warnf("%s: Port %s is not a literal number", r.id, render(r.props["Port"]))
		}
		for _, act := range list(r.props["DefaultActions"]) {
			act := object(act)
			if v, ok := act["TargetGroupArn"]; ok {
				l.TargetGroups = append(l.TargetGroups, a.t.key(v))
			}
			for _, tg := range list(object(act["ForwardConfig"])["TargetGroups"]) {
				if v, ok := object(tg)["TargetGroupArn"]; ok {
					l.TargetGroups = append(l.TargetGroups, a.t.key(v))
				}
			}
		}
		slices.Sort(l.TargetGroups)
		l.TargetGroups = slices.Compact(l.TargetGroups)
		a.r.Listeners = append(a.r.Listeners, l)
	}
	for _, r := range a.t.ofType(typeTargetGroup) {
		tg := &TargetGroup{ID: r.id, TargetType: "instance", HealthCheckPort: "traffic-port"}
		tg.Port, _ = integer(r.props["Port"])
		tg.Protocol, _ = literal(r.props["Protocol"])
		if v, ok := literal(r.props["TargetType"]); ok {
			tg.TargetType = v
		}
		if v, ok := r.props["HealthCheckPort"]; ok {
			tg.HealthCheckPort = render(v)
		}
		tg.PreserveClientIP = tg.TargetType == "instance" || strings.HasPrefix(tg.Protocol, "UDP") || tg.Protocol == "TCP_UDP"
		if tg.Protocol == "TCP" || tg.Protocol == "TLS" {
			for _, attr := range list(r.props["TargetGroupAttributes"]) {
				attr := object(attr)
				if attr["Key"] == "preserve_client_ip.enabled" {
					if v, ok := literal(attr["Value"]); ok {
						tg.PreserveClientIP = v == "true"
					}
				}
			}
		}
		tg.StaticTargets = len(list(r.props["Targets"])) > 0
		a.tgs[r.id] = tg
		a.r.TargetGroups = append(a.r.TargetGroups, tg)
	}
}

// readEndpoints reads VPC endpoint services, which expose load balancers
// through PrivateLink, and interface VPC endpoints, whose security groups
// admit the VPC's workloads.
func (a *analysis) readEndpoints() {
	for _, r := range a.t.ofType(typeEndpointService) {
		for _, v := range list(r.props["NetworkLoadBalancerArns"]) {
			if lb := a.lbs[a.t.key(v)]; lb != nil {
				lb.EndpointServices = append(lb.EndpointServices, r.id)
			}
		}
	}
	for _, r := range a.t.ofType(typeVPCEndpoint) {
		// CloudFormation's default type is Gateway, which has no network
		// interfaces and no security groups.
		if typ, _ := literal(r.props["VpcEndpointType"]); typ != "Interface" {
			continue
		}
		e := &Endpoint{ID: r.id, Service: render(r.props["ServiceName"]), SecurityGroups: a.groupKeys(r.props["SecurityGroupIds"])}
		e.vpc = a.subnetAddrs(nil, r.props["VpcId"])
		a.r.Endpoints = append(a.r.Endpoints, e)
	}
}

// serviceName is a service's logical ID without aws-cdk-lib's hash and a
// trailing "Service", the name people gave the construct.
func serviceName(id string) string {
	name := ShortName(id)
	if trimmed := strings.TrimSuffix(name, "Service"); trimmed != "" {
		return trimmed
	}
	return name
}

func (a *analysis) readServices() {
	for _, r := range a.t.ofType(typeService) {
		s := &Service{ID: r.id, Name: serviceName(r.id), Cluster: "default"}
		if v, ok := r.props["Cluster"]; ok {
			s.Cluster = a.t.key(v, "Arn")
		}
		td := a.t.resource(a.t.key(r.props["TaskDefinition"]), typeTaskDefinition)
		if td == nil && r.props["TaskDefinition"] != nil {
			a.warnf("%s: task definition %s is not in the template", r.id, render(r.props["TaskDefinition"]))
		}
		strategy := list(r.props["CapacityProviderStrategy"])
		s.Launch, _ = literal(r.props["LaunchType"])
		if s.Launch == "" && len(strategy) == 0 {
			strategy = a.defaultStrategy(s.Cluster)
		}
		if s.Launch == "" {
			s.Launch = "EC2"
			for _, item := range strategy {
				if name, _ := literal(object(item)["CapacityProvider"]); strings.HasPrefix(name, "FARGATE") {
					s.Launch = "FARGATE"
				}
			}
		}
		awsvpc := object(object(r.props["NetworkConfiguration"])["AwsvpcConfiguration"])
		s.NetworkMode = "bridge"
		if td != nil && td.props["NetworkMode"] != nil {
			s.NetworkMode, _ = literal(td.props["NetworkMode"])
		} else if awsvpc != nil || s.Launch == "FARGATE" {
			s.NetworkMode = "awsvpc"
		}

		var wiring []Failure
		if s.NetworkMode == "awsvpc" {
			groups := a.groupKeys(awsvpc["SecurityGroups"])
			if len(groups) == 0 {
				wiring = append(wiring, Failure{HopWiring, fmt.Sprintf("service %s names no security group for its tasks, so ECS gives them the VPC's default security group", r.id)})
			}
			var vpc any
			if len(groups) > 0 {
				vpc = a.groupVPC[groups[0]]
			}
			s.Placements = []Placement{{Where: "tasks", SecurityGroups: groups, addrs: a.subnetAddrs(list(awsvpc["Subnets"]), vpc)}}
		} else {
			var reason string
			s.Placements, reason = a.instancePlacements(s, strategy)
			if reason != "" {
				wiring = append(wiring, Failure{HopWiring, reason})
			}
		}
		a.r.Services = append(a.r.Services, s)

		for _, lb := range list(r.props["LoadBalancers"]) {
			lb := object(lb)
			if lb["TargetGroupArn"] == nil {
				continue // a Classic Load Balancer (LoadBalancerName)
			}
			reg := &registration{svc: s, targetGroup: a.t.key(lb["TargetGroupArn"]), failures: slices.Clone(wiring)}
			reg.container, _ = literal(lb["ContainerName"])
			reg.port, _ = integer(lb["ContainerPort"])
			ports, failure := a.targetPorts(s, td, reg.container, reg.port)
			reg.targetPorts = ports
			if failure != "" {
				reg.failures = append(reg.failures, Failure{HopWiring, failure})
			}
			a.regs = append(a.regs, reg)
		}
	}
}

// targetPorts is the port range that a service's targets receive traffic
// for container:port on.
func (a *analysis) targetPorts(s *Service, td *resource, container string, port int) (PortRange, string) {
	if td == nil {
		if s.NetworkMode == "awsvpc" {
			return Port(port), ""
		}
		return dynamicRange(s), ""
	}
	var def map[string]any
	for _, c := range list(td.props["ContainerDefinitions"]) {
		if name, _ := literal(object(c)["Name"]); name == container {
			def = object(c)
		}
	}
	if def == nil {
		return Port(port), fmt.Sprintf("task definition %s has no container %q", td.id, container)
	}
	for _, pm := range list(def["PortMappings"]) {
		pm := object(pm)
		if cp, _ := integer(pm["ContainerPort"]); cp != port {
			continue
		}
		host, hasHost := integer(pm["HostPort"])
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
	return Port(port), fmt.Sprintf("container %q of task definition %s maps no container port %d", container, td.id, port)
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
	for _, r := range a.t.ofType(typeClusterAssociations) {
		if a.t.key(r.props["Cluster"], "Arn") == cluster {
			if s := list(r.props["DefaultCapacityProviderStrategy"]); len(s) > 0 {
				return s
			}
		}
	}
	if c := a.t.resource(cluster, typeCluster); c != nil {
		return list(c.props["DefaultCapacityProviderStrategy"])
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
			v := object(item)["CapacityProvider"]
			if name, _ := literal(v); strings.HasPrefix(name, "FARGATE") {
				continue
			}
			cp := a.capacityProvider(v)
			if cp == nil {
				return nil, fmt.Sprintf("capacity provider %s of service %s is not in the template, so its instances' security groups are unknown", render(v), s.ID)
			}
			add(a.t.key(object(cp.props["AutoScalingGroupProvider"])["AutoScalingGroupArn"]))
		}
	} else {
		var providers []any
		for _, r := range a.t.ofType(typeClusterAssociations) {
			if a.t.key(r.props["Cluster"], "Arn") == s.Cluster {
				providers = append(providers, list(r.props["CapacityProviders"])...)
			}
		}
		if c := a.t.resource(s.Cluster, typeCluster); c != nil {
			providers = append(providers, list(c.props["CapacityProviders"])...)
		}
		for _, v := range providers {
			if cp := a.capacityProvider(v); cp != nil {
				add(a.t.key(object(cp.props["AutoScalingGroupProvider"])["AutoScalingGroupArn"]))
			}
		}
		for _, asg := range a.t.ofType(typeAutoScalingGroup) {
			if _, userData := a.launchConfig(asg); a.t.resources[s.Cluster] != nil && mentions(userData, s.Cluster) {
				add(asg.id)
			}
		}
	}
	if len(asgs) == 0 {
		return nil, fmt.Sprintf("no Auto Scaling group in the template runs the container instances of cluster %s for service %s", s.Cluster, s.ID)
	}
	slices.Sort(asgs)
	var out []Placement
	for _, id := range asgs {
		asg := a.t.resource(id, typeAutoScalingGroup)
		if asg == nil {
			return nil, fmt.Sprintf("Auto Scaling group %s of service %s is not in the template, so its instances' security groups are unknown", id, s.ID)
		}
		groups, userData := a.launchConfig(asg)
		if len(groups) == 0 {
			return nil, fmt.Sprintf("the launch template of Auto Scaling group %s names no security group, so service %s's instances get the VPC's default security group", id, s.ID)
		}
		p := Placement{Where: id, SecurityGroups: groups, dynamic: DynamicPorts}
		var vpc any = a.groupVPC[groups[0]]
		p.addrs = a.subnetAddrs(list(asg.props["VPCZoneIdentifier"]), vpc)
		if r, ok := hostPortRange(joinedLiterals(userData)); ok {
			p.dynamic = r
		}
		out = append(out, p)
	}
	return out, ""
}

func (a *analysis) capacityProvider(v any) *resource {
	if id, ok := a.t.refTarget(v); ok {
		return a.t.resource(id, typeCapacityProvider)
	}
	if name, ok := literal(v); ok {
		for _, r := range a.t.ofType(typeCapacityProvider) {
			if n, _ := literal(r.props["Name"]); n == name {
				return r
			}
		}
	}
	return nil
}

// launchConfig returns the security groups and user data an Auto Scaling
// group launches its instances with, from its launch template (directly or
// in a mixed instances policy) or launch configuration.
func (a *analysis) launchConfig(asg *resource) (groups []string, userData any) {
	spec := object(asg.props["LaunchTemplate"])
	if spec == nil {
		spec = object(object(object(asg.props["MixedInstancesPolicy"])["LaunchTemplate"])["LaunchTemplateSpecification"])
	}
	if spec != nil {
		lt := a.launchTemplate(spec)
		if lt == nil {
			return nil, nil
		}
		data := object(lt.props["LaunchTemplateData"])
		groups = a.groupKeys(data["SecurityGroupIds"])
		for _, v := range list(data["SecurityGroups"]) {
			if name, ok := literal(v); ok {
				groups = append(groups, a.groupNamed(name))
			}
		}
		for _, ni := range list(data["NetworkInterfaces"]) {
			groups = append(groups, a.groupKeys(object(ni)["Groups"])...)
		}
		return groups, data["UserData"]
	}
	if id, ok := a.t.refTarget(asg.props["LaunchConfigurationName"]); ok {
		if lc := a.t.resource(id, typeLaunchConfiguration); lc != nil {
			return a.groupKeys(lc.props["SecurityGroups"]), lc.props["UserData"]
		}
	}
	return nil, nil
}

func (a *analysis) launchTemplate(spec map[string]any) *resource {
	if id, ok := a.t.refTarget(spec["LaunchTemplateId"]); ok {
		return a.t.resource(id, typeLaunchTemplate)
	}
	if id, ok := a.t.refTarget(spec["LaunchTemplateName"]); ok {
		return a.t.resource(id, typeLaunchTemplate)
	}
	if name, ok := literal(spec["LaunchTemplateName"]); ok {
		for _, r := range a.t.ofType(typeLaunchTemplate) {
			if n, _ := literal(r.props["LaunchTemplateName"]); n == name {
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
