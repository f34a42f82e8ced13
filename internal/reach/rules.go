package reach

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/passthrough-cdk/passthrough/internal/cfn"
)

// readSecurityGroups reads the template's security groups and their rules,
// inline or written as separate resources, with the allow-all egress EC2
// gives a group created without egress rules.
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
