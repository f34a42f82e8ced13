package passthrough

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/jsii-runtime-go"
)

// pathMTUMessage is an ICMP message that path MTU discovery relies on, as a
// security group rule writes it: the ICMP type in FromPort and the code in
// ToPort (-1 for any code).
type pathMTUMessage struct {
	id, protocol, anyAddress, what string
	icmpType, icmpCode             float64
	rules                          ruleCount
}

// The messages a router on the path sends back when a packet is larger
// than the next link's MTU and may not be fragmented: for IPv4, destination
// unreachable, fragmentation needed (type 3, code 4); for IPv6, packet too
// big (type 2, any code). docs/network.md ("Path MTU discovery") cites the
// AWS documentation for each.
var (
	fragmentationNeeded = pathMTUMessage{
		id: "PathMTUDiscovery", protocol: "icmp", anyAddress: "0.0.0.0/0",
		what:     "ICMP destination unreachable, fragmentation needed (type 3 code 4)",
		icmpType: 3, icmpCode: 4, rules: ruleCount{v4: 1},
	}
	packetTooBig = pathMTUMessage{
		id: "PathMTUDiscoveryIPv6", protocol: "icmpv6", anyAddress: "::/0",
		what:     "ICMPv6 packet too big (type 2)",
		icmpType: 2, icmpCode: -1, rules: ruleCount{v6: 1},
	}
)

// admitPathMTUDiscovery admits the path MTU discovery messages into the
// load balancer's security group from any address: routers anywhere on a
// client's path send them, not the clients. Each is a rule of its own,
// written as a separate AWS::EC2::SecurityGroupIngress rather than inline
// in the group, so that its cdk-nag suppression (AwsSolutions-EC23, any
// address) covers exactly that rule and never the group's client rules.
// They count against the group's quota of inbound rules like any other.
func (lb *LoadBalancer) admitPathMTUDiscovery(sg awsec2.ISecurityGroup) {
	messages := []pathMTUMessage{fragmentationNeeded}
	if lb.dualStack {
		messages = append(messages, packetTooBig)
	}
	for _, m := range messages {
		props := &awsec2.CfnSecurityGroupIngressProps{
			GroupId:     sg.SecurityGroupId(),
			IpProtocol:  jsii.String(m.protocol),
			FromPort:    jsii.Number(m.icmpType),
			ToPort:      jsii.Number(m.icmpCode),
			Description: jsii.String("Path MTU discovery: " + m.what + " from routers on any client path"),
		}
		if m.rules.v6 > 0 {
			props.CidrIpv6 = jsii.String(m.anyAddress)
		} else {
			props.CidrIp = jsii.String(m.anyAddress)
		}
		rule := awsec2.NewCfnSecurityGroupIngress(lb, jsii.String(m.id), props)
		suppressNag(rule, nagSuppression{
			id:     "AwsSolutions-EC23",
			reason: "Admits only " + m.what + " from any address: routers anywhere on a client's path send it for path MTU discovery, which AWS's Network Load Balancer security group guidance admits ICMP for. It opens no TCP or UDP port.",
		})
		lb.ingress.count = lb.ingress.count.add(m.rules)
	}
}
