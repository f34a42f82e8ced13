package passthrough

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// AllowCallersThroughNAT makes the load balancer's own DNS name the path of
// the callers that [Service.GrantConnect] admits to an internet-facing load
// balancer, instead of a private name from [LoadBalancer.AddPrivateDNSName].
// Callers then reach its public addresses through the VPC's NAT gateways
// and arrive from their Elastic IP addresses, so GrantConnect admits
// natAddresses on the callee's listener port (not the internet, and not the
// caller's group, which the load balancer never sees), and lets the caller
// send to any IPv4 address on that port. It costs NAT data processing on
// every byte, both ways, and the port admits everything behind those NAT
// gateways, not only the granted callers (docs/architectures.md).
//
// natAddresses are the NAT gateways' Elastic IP addresses, as IPv4 peers.
// Without them, the Elastic IPs of the NAT gateways of the load balancer's
// VPC are used, when the VPC is defined in this app (ClusterProps created
// it, or an awsec2.Vpc); a VPC without NAT gateways has no such path.
func (lb *LoadBalancer) AllowCallersThroughNAT(natAddresses ...awsec2.IPeer) {
	v := &validator{scope: lb}
	switch {
	case !lb.internetFacing:
		v.failf("AllowCallersThroughNAT", "", "is for an internet-facing load balancer; callers reach internal load balancer %s by its own DNS name, which resolves to its private addresses", *lb.Node().Path())
	case lb.callers.privateDNSName != nil:
		v.failf("AllowCallersThroughNAT", "", "cannot be used on load balancer %s, which already has a private path (AddPrivateDNSName %s); callers take one path", *lb.Node().Path(), *lb.callers.privateDNSName)
	case lb.imported && !lb.dnsNameKnown:
		v.failf("AllowCallersThroughNAT", "", "needs the DNS name of imported load balancer %s; set LoadBalancerAttributes.DNSName", *lb.Node().Path())
	}
	if v.err == nil && len(natAddresses) == 0 {
		vpc, defined := lb.Vpc.(awsec2.Vpc)
		if !defined {
			v.failf("AllowCallersThroughNAT", "", "needs the NAT gateways' Elastic IP addresses: the VPC of load balancer %s is not defined in this app; pass them", *lb.Node().Path())
		} else if natAddresses = natGatewayAddresses(vpc); len(natAddresses) == 0 {
			v.failf("AllowCallersThroughNAT", "", "finds no NAT gateway in the VPC of load balancer %s, so callers could not reach its public addresses; use AddPrivateDNSName", *lb.Node().Path())
		}
	}
	for _, peer := range natAddresses {
		if rulesOf(peer) != (ruleCount{v4: 1}) {
			v.failf("AllowCallersThroughNAT", *peer.UniqueId(), "is not an IPv4 address range; NAT gateways send from IPv4 Elastic IP addresses")
		}
	}
	v.check()
	lb.callers.nat = natAddresses
}

// natGatewayAddresses are the Elastic IP addresses of the NAT gateways in
// vpc's public subnets, as aws-cdk-lib creates them (a PublicSubnet's
// children "NATGateway" and "EIP").
func natGatewayAddresses(vpc awsec2.Vpc) []awsec2.IPeer {
	var out []awsec2.IPeer
	for _, subnet := range *vpc.PublicSubnets() {
		if subnet.Node().TryFindChild(jsii.String("NATGateway")) == nil {
			continue
		}
		if eip, ok := subnet.Node().TryFindChild(jsii.String("EIP")).(awsec2.CfnEIP); ok {
			out = append(out, awsec2.Peer_Ipv4(awscdk.Fn_Join(jsii.String(""), &[]*string{eip.AttrPublicIp(), jsii.String("/32")})))
		}
	}
	return out
}

// reserveNATPath counts the rules that admit the NAT addresses on port and
// returns the indexes of the addresses not admitted on it yet.
func (lb *LoadBalancer) reserveNATPath(v *validator, callerPath string, port *float64) []int {
	var fresh []int
	for i, peer := range lb.callers.nat {
		if !lb.ingress.counted[*peer.UniqueId()+" "+formatNumber(*port)] {
			fresh = append(fresh, i)
		}
		lb.reserveIngress(v, "GrantConnect caller", callerPath, peer, port)
	}
	return fresh
}

// admitThroughNAT writes the rules of a NAT path: each fresh NAT address
// into the load balancer's group on the listener port, as a resource of its
// own (in the caller's stack when that is not the load balancer's), and the
// caller's egress to any IPv4 address on that port.
func (lb *LoadBalancer) admitThroughNAT(caller *Service, port *float64, fresh []int) {
	scope := constructs.Construct(lb)
	if awscdk.Stack_Of(caller) != lb.stack() {
		scope = caller
	}
	for _, i := range fresh {
		rule := awsec2.NewCfnSecurityGroupIngress(scope, jsii.String(fmt.Sprintf("CallersThroughNAT%dPort%s", i, formatNumber(*port))), &awsec2.CfnSecurityGroupIngressProps{
			GroupId:     lb.SecurityGroup.SecurityGroupId(),
			IpProtocol:  jsii.String("tcp"),
			FromPort:    port,
			ToPort:      port,
			CidrIp:      lb.callers.nat[i].ToIngressRuleConfig().CidrIp,
			Description: jsii.String(fmt.Sprintf("Passthrough callers in the VPC through NAT gateway address %d", i+1)),
		})
		suppressNag(rule, nagSuppression{
			id:        "CdkNagValidationFailure",
			reason:    "AwsSolutions-EC23 cannot read a CIDR block that is a reference; here it is one NAT gateway's Elastic IP address (/32), through which callers in the VPC reach the load balancer's public addresses",
			appliesTo: []string{"AwsSolutions-EC23"},
		})
	}
	caller.Connections().AllowTo(anyIPv4(), awsec2.Port_Tcp(port),
		jsii.String(fmt.Sprintf("Passthrough %s to load balancer %s through NAT", *caller.Node().Id(), *lb.Node().Id())))
}
