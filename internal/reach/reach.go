// Package reach analyses a synthesized CloudFormation template for the paths
// that traffic can take from clients through a load balancer's listeners to
// the ECS services behind them, and for the security group rules that open
// them.
//
// A passthrough load balancer only works when three security group hops
// line up: the load balancer's group admits clients on the listener port,
// the same group lets the load balancer out to the targets on the port they
// listen on, and the targets' group admits the load balancer on that port.
// Each hop is written in a different resource, often as a separate
// AWS::EC2::SecurityGroupIngress or Egress, and a mistake in any of them
// still deploys: the service just never becomes healthy, or it is open to
// more than its load balancer. The analysis follows listener -> target group
// -> ECS service -> task or container instance security groups, checks each
// hop, and classifies every ingress rule in the template as serving a
// listener (or an interface VPC endpoint, which admits the VPC's workloads
// on HTTPS) or as unexplained, so that tests can require both that every
// listener reaches its service and that nothing else is open.
//
// The analysis reads resources the way CloudFormation and EC2 interpret
// them: references written as Ref, Fn::GetAtt (list or string form), plain
// IDs of imported resources, Fn::ImportValue or parameters; rules inline in
// AWS::EC2::SecurityGroup or as separate resources; protocols by name or
// number; EC2's default allow-all egress for groups created without inline
// egress rules. It does not evaluate Conditions (every resource is assumed
// to exist) or Fn::If, and it does not follow ALB listener rules.
package reach

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	"github.com/passthrough-cdk/passthrough/internal/cfn"
)

// Direction of a security group rule.
type Direction string

// Directions of security group rules.
const (
	Ingress Direction = "ingress"
	Egress  Direction = "egress"
)

// PeerKind says what a security group rule's peer is.
type PeerKind string

// Kinds of peers.
const (
	PeerIPv4       PeerKind = "ipv4"
	PeerIPv6       PeerKind = "ipv6"
	PeerGroup      PeerKind = "security-group"
	PeerPrefixList PeerKind = "prefix-list"
)

// Peer is the other end of a security group rule: the source of an ingress
// rule or the destination of an egress rule.
type Peer struct {
	Kind PeerKind
	// ID is the CIDR block as written, the security group (a logical ID
	// for groups in the template, otherwise the ID or expression as
	// written) or the prefix list.
	ID string
	// Prefix is the address range of an IPv4 or IPv6 peer whose CIDR block
	// is a literal, or a reference to the CidrBlock of a VPC in the template
	// whose CidrBlock is one. It is the zero Prefix otherwise.
	Prefix netip.Prefix
}

// AnyAddress reports whether p is every IPv4 (0.0.0.0/0) or IPv6 (::/0)
// address.
func (p Peer) AnyAddress() bool {
	return (p.Kind == PeerIPv4 || p.Kind == PeerIPv6) && p.Prefix.IsValid() && p.Prefix.Bits() == 0
}

func (p Peer) String() string {
	switch p.Kind {
	case PeerGroup:
		return "sg " + p.ID
	case PeerPrefixList:
		return "prefix list " + p.ID
	}
	return p.ID
}

// Rule is one security group rule: a grant of traffic in one direction
// between the group and a peer.
type Rule struct {
	Direction Direction
	// Group is the security group the rule belongs to.
	Group string
	Peer  Peer
	// Protocol is "tcp", "udp", "icmp", "icmpv6", "all" (IpProtocol -1), or
	// the IpProtocol as written for other protocols.
	Protocol string
	// Ports are the ports of a tcp or udp rule, AllPorts for "all". For icmp
	// they hold the ICMP type (From) and code (To), -1 meaning any.
	Ports PortRange
	// Origin is where the rule is written: the logical ID of an
	// AWS::EC2::SecurityGroupIngress or Egress, or of the security group
	// followed by the inline property and index, such as
	// "LbSecurityGroupA28D6DD7.SecurityGroupIngress[0]".
	Origin      string
	Description string
	// Implicit marks the rule EC2 adds to a group created with no inline
	// egress rule: all traffic to 0.0.0.0/0. It has no Origin of its own.
	Implicit bool
	// Serves lists what needs the rule, or part of it, by logical ID: the
	// listeners whose paths go through it and the interface VPC endpoints
	// it admits clients to.
	Serves []string
	// Unexplained says why the rule, or part of it, is needed neither by a
	// listener path nor by an interface VPC endpoint. It is empty for rules
	// that are fully needed, and for egress rules of groups other than load
	// balancers' (the workload's own egress is not judged).
	Unexplained string
}

// Traffic describes the protocol and ports the rule allows, the way people
// read rules: "tcp 443", "tcp 32768-60999", "all traffic", "icmp type 8".
func (r *Rule) Traffic() string { return describe(r.Protocol, r.Ports) }

func (r *Rule) String() string {
	word, origin := "from", r.Origin
	if r.Direction == Egress {
		word = "to"
	}
	if r.Implicit {
		origin = "EC2 default egress"
	}
	return fmt.Sprintf("%s of %s: %s %s %s (%s)", r.Direction, r.Group, r.Traffic(), word, r.Peer, origin)
}

// describe writes a protocol and its ports the way people read rules.
func describe(protocol string, ports PortRange) string {
	switch protocol {
	case "all":
		return "all traffic"
	case "tcp", "udp":
		return protocol + " " + ports.String()
	case "icmp", "icmpv6":
		if ports.From == -1 {
			return protocol + " any type"
		}
		if ports.To == -1 {
			return fmt.Sprintf("%s type %d", protocol, ports.From)
		}
		return fmt.Sprintf("%s type %d code %d", protocol, ports.From, ports.To)
	}
	return "protocol " + protocol + " " + ports.String()
}

// SecurityGroup is a security group the template defines or refers to.
type SecurityGroup struct {
	// ID is the logical ID of a group in the template, or the ID or
	// expression a template uses for a group defined elsewhere.
	ID string
	// InTemplate is false for groups defined elsewhere, of which only the
	// rules the template adds are known.
	InTemplate  bool
	Description string
	// DefaultEgress is set for a group in the template that has no inline
	// egress rule: EC2 then gives it a rule allowing all outbound traffic,
	// and egress rules declared as separate AWS::EC2::SecurityGroupEgress
	// resources do not take it away.
	DefaultEgress bool
}

// LoadBalancer is an Elastic Load Balancing v2 load balancer.
type LoadBalancer struct {
	ID string
	// Type is "network" or "application" (CloudFormation's default).
	Type           string
	InternetFacing bool
	// SecurityGroups of the load balancer. A Network Load Balancer created
	// without any admits every client and can never be given one.
	SecurityGroups []string
	// EndpointServices are the VPC endpoint services (AWS PrivateLink) in
	// the template that expose the load balancer to other VPCs.
	EndpointServices []string
	// FiltersPrivateLink is false when the load balancer's security groups
	// do not apply to traffic arriving through PrivateLink
	// (EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic "off"): the
	// endpoint service's allowed principals and each consumer's endpoint
	// decide who connects instead.
	FiltersPrivateLink bool
	// nodes are the load balancer's own addresses, as subnets.
	nodes addrs
}

// Listener is a load balancer listener.
type Listener struct {
	ID string
	// LoadBalancer is the listener's load balancer (its logical ID, or the
	// ARN expression of one defined elsewhere).
	LoadBalancer string
	Port         int
	// Protocol as written: TCP, TLS, UDP, TCP_UDP, HTTP or HTTPS.
	Protocol string
	// TargetGroups the listener forwards to by default.
	TargetGroups []string
}

// TargetGroup is a load balancer target group.
type TargetGroup struct {
	ID       string
	Port     int
	Protocol string
	// TargetType is "instance" (CloudFormation's default), "ip", "lambda"
	// or "alb".
	TargetType string
	// HealthCheckPort is "traffic-port" or a port number.
	HealthCheckPort string
	// PreserveClientIP is the effective preserve_client_ip.enabled: on by
	// default for instance targets and for UDP, off for ip targets over
	// TCP. With it on, targets see clients' addresses, so address-based
	// target rules must admit the clients; rules that reference the load
	// balancer's security group work either way.
	PreserveClientIP bool
	// StaticTargets is set when the target group lists targets itself
	// (Targets), which the analysis does not follow.
	StaticTargets bool
}

// Service is an ECS service.
type Service struct {
	ID string
	// Name is the logical ID without aws-cdk-lib's hash and a trailing
	// "Service": "ApiServiceD5B4A50A" is "Api".
	Name    string
	Cluster string
	// Launch is "FARGATE", "EC2" or "EXTERNAL": where ECS places the tasks.
	Launch string
	// NetworkMode of the task definition: "awsvpc", "bridge" or "host".
	NetworkMode string
	// Placements are where the service's targets run, as security groups
	// see them. An awsvpc task has one, its own network interface; bridge
	// and host tasks run on the container instances of any of the cluster's
	// Auto Scaling groups the service may use, one placement each.
	Placements []Placement
}

// Placement is a kind of network interface a service's targets sit behind.
type Placement struct {
	// Where names it: "tasks" for awsvpc tasks, or the logical ID of the
	// Auto Scaling group whose instances run bridge or host tasks.
	Where string
	// SecurityGroups of the interface. Their rules apply together: one of
	// them admitting the traffic is enough.
	SecurityGroups []string
	addrs          addrs
	dynamic        PortRange
}

// Endpoint is an interface VPC endpoint: network interfaces in the VPC,
// behind security groups, through which the VPC's workloads reach an AWS
// service (or another PrivateLink service) without leaving it. Their ingress
// rules serve the endpoint, not a listener.
type Endpoint struct {
	ID string
	// Service is the endpoint's ServiceName as written, such as
	// {"Fn::Join":["",["com.amazonaws.",{"Ref":"AWS::Region"},".ecr.api"]]}.
	Service        string
	SecurityGroups []string
	vpc            addrs
}

// Hop is one of the checks along a path.
type Hop string

// Hops of a path, in the order traffic takes them.
const (
	// HopWiring is the chain listener -> target group -> service -> task
	// definition -> security groups itself.
	HopWiring Hop = "wiring"
	// HopClients is the load balancer's security group admitting clients
	// on the listener port.
	HopClients Hop = "clients"
	// HopEgress is the load balancer's security group letting it out to
	// the targets.
	HopEgress Hop = "egress"
	// HopTargets is the targets' security group admitting the load
	// balancer.
	HopTargets Hop = "targets"
)

// Failure is a hop that is closed, and why.
type Failure struct {
	Hop    Hop
	Reason string
}

// Need is traffic the targets must accept from the load balancer.
type Need struct {
	Protocol string
	Ports    PortRange
	// Purpose is "traffic" or "health checks".
	Purpose string
}

func (n Need) String() string { return describe(n.Protocol, n.Ports) + " (" + n.Purpose + ")" }

// Path is the way from a listener to one ECS service registered in one of
// the target groups the listener forwards to.
type Path struct {
	Listener *Listener
	// LoadBalancer is nil when the listener's load balancer is not in the
	// template.
	LoadBalancer *LoadBalancer
	// TargetGroup is nil when the listener forwards to a target group that
	// is not in the template.
	TargetGroup *TargetGroup
	// Service is nil when no ECS service in the template registers targets
	// in the target group.
	Service       *Service
	ContainerName string
	ContainerPort int
	// TargetPorts are the ports targets receive the traffic on: the
	// container port for awsvpc (ip targets), the host port for bridge and
	// host (instance targets), which for HostPort 0 is the whole range of
	// dynamic host ports because ECS picks one per task.
	TargetPorts PortRange
	// Needs is what the targets' security groups must admit from the load
	// balancer, and its security groups let out: TargetPorts, and the
	// health check port if the target group checks another one.
	Needs []Need
	// Clients are the load balancer's ingress rules that admit clients on
	// the listener port.
	Clients []*Rule
	// PrivateLink names the endpoint service whose consumers reach the
	// listener without the load balancer's security groups filtering them
	// (see LoadBalancer.FiltersPrivateLink); empty otherwise.
	PrivateLink string
	// Egress are the load balancer's egress rules that reach the targets.
	Egress []*Rule
	// Ingress are the targets' ingress rules that admit the load balancer.
	Ingress []*Rule
	// Failures are the hops that are closed; none for an open path.
	Failures []Failure
}

// Open reports whether traffic gets through: some client is admitted on the
// listener port (or reaches it through PrivateLink), the load balancer may send to its targets on every port
// they need, and the targets admit it on all of them.
func (p *Path) Open() bool { return len(p.Failures) == 0 }

func (p *Path) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "listener %s (%s %d)", p.Listener.ID, p.Listener.Protocol, p.Listener.Port)
	if p.TargetGroup != nil {
		fmt.Fprintf(&b, " -> target group %s", p.TargetGroup.ID)
	}
	if p.Service != nil {
		fmt.Fprintf(&b, " -> service %s", p.Service.ID)
	}
	return b.String()
}

// Report is the result of [Analyze]. Every list is sorted, so reports of the
// same template are equal.
type Report struct {
	LoadBalancers  []*LoadBalancer
	Listeners      []*Listener
	TargetGroups   []*TargetGroup
	Services       []*Service
	Endpoints      []*Endpoint
	SecurityGroups []*SecurityGroup
	// Paths holds one path per listener and service registered in one of
	// its target groups, and one per listener or target group that reaches
	// no service (with a wiring failure).
	Paths []*Path
	// Ingress and Egress are every security group rule in the template,
	// including the implicit egress of groups without inline egress, but
	// not placeholder rules that match no traffic.
	Ingress []*Rule
	Egress  []*Rule
	// UnreachedServices describes each registration of an ECS service in a
	// target group that no listener forwards to.
	UnreachedServices []string
	// Warnings are parts of the template the analysis could not evaluate
	// or that have no effect, such as a rule without a peer.
	Warnings []string
}

// Analyze reads a synthesized template as encoding/json decodes it into a
// map. It fails only for a template that is not a CloudFormation template;
// anything it cannot follow inside one is reported in the Report.
func Analyze(template map[string]any) (*Report, error) {
	t, err := cfn.New(template)
	if err != nil {
		return nil, err
	}
	a := newAnalysis(t)
	a.readSecurityGroups()
	a.readLoadBalancers()
	a.readEndpoints()
	a.readServices()
	a.buildPaths()
	a.classify()
	a.sort()
	return a.r, nil
}

// AnalyzeJSON is [Analyze] for a template's JSON text.
func AnalyzeJSON(data []byte) (*Report, error) {
	var tpl map[string]any
	if err := json.Unmarshal(data, &tpl); err != nil {
		return nil, fmt.Errorf("decode template: %w", err)
	}
	return Analyze(tpl)
}

// SecurityGroup returns the security group with the given ID, or nil.
func (r *Report) SecurityGroup(id string) *SecurityGroup {
	for _, g := range r.SecurityGroups {
		if g.ID == id {
			return g
		}
	}
	return nil
}

// PathsOf returns the paths of the listener with logical ID id.
func (r *Report) PathsOf(id string) []*Path {
	var out []*Path
	for _, p := range r.Paths {
		if p.Listener.ID == id {
			out = append(out, p)
		}
	}
	return out
}

// Unexplained returns the rules, ingress first, that some listener path does
// not account for.
func (r *Report) Unexplained() []*Rule {
	var out []*Rule
	for _, rules := range [][]*Rule{r.Ingress, r.Egress} {
		for _, rule := range rules {
			if rule.Unexplained != "" {
				out = append(out, rule)
			}
		}
	}
	return out
}

// Problems lists, one sentence each, everything a passthrough stack should
// not have: closed paths with the hop that fails and why, listeners that
// reach no service, services no listener reaches, unexplained rules, groups
// left with EC2's default allow-all egress, load balancers without a
// security group, and whatever the analysis could not evaluate. An empty
// list means that every listener reaches at least one ECS service, every
// path is open, every service in a target group is reached, and no security
// group rule opens more than those paths need.
func (r *Report) Problems() []string {
	var out []string
	for _, w := range r.Warnings {
		out = append(out, "cannot evaluate: "+w)
	}
	for _, lb := range r.LoadBalancers {
		if len(lb.SecurityGroups) == 0 {
			out = append(out, fmt.Sprintf("load balancer %s has no security group: every client reaches its listeners, and a Network Load Balancer cannot be given one after it is created", lb.ID))
		}
	}
	for _, p := range r.Paths {
		for _, f := range p.Failures {
			out = append(out, fmt.Sprintf("%s: %s: %s", p, f.Hop, f.Reason))
		}
	}
	for _, l := range r.Listeners {
		if len(l.TargetGroups) == 0 {
			out = append(out, fmt.Sprintf("listener %s (%s %d) forwards to no target group", l.ID, l.Protocol, l.Port))
		}
	}
	out = append(out, r.UnreachedServices...)
	for _, rule := range r.Unexplained() {
		out = append(out, fmt.Sprintf("unexplained %s: %s", rule, rule.Unexplained))
	}
	for _, g := range r.SecurityGroups {
		if g.DefaultEgress {
			out = append(out, fmt.Sprintf("security group %s has no inline egress rule, so EC2 gives it the default allow-all egress (egress rules written as separate resources do not remove it)", g.ID))
		}
	}
	return out
}
