package passthrough

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// envVarName is what GrantConnect accepts as an environment variable name:
// the portable shell form, which every language runtime reads back.
var envVarName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// callerPath is how the services that GrantConnect admits reach a load
// balancer: at its first private name (AddPrivateDNSName, or
// LoadBalancerAttributes.PrivateDNSName), through the NAT gateways
// (AllowCallersThroughNAT), or else at its own DNS name.
type callerPath struct {
	privateDNSName *string
	// privateDNSRecord holds privateDNSName; callers' services wait for it.
	// It is nil for a name given with LoadBalancerAttributes.
	privateDNSRecord constructs.IConstruct
	// nat are the NAT gateways' addresses that callers arrive from.
	nat []awsec2.IPeer
}

// GrantConnect lets caller's containers open TLS connections to s through
// s's load balancer, and tells them where: caller's container gets the
// environment variable envVar = "HOST:PORT", with HOST the load balancer's
// first name from [LoadBalancer.AddPrivateDNSName], or else its DNS name
// (the name s's certificate should carry), and PORT s's listener port.
//
// It adds exactly two security group rules: caller's security group may
// send to the load balancer's group on the listener port, and that group
// admits caller's group on it. On EC2, caller's group is the cluster's
// instance group, so every service on those instances may call. With the
// NAT path ([LoadBalancer.AllowCallersThroughNAT]) it admits the NAT
// gateways' addresses instead, and lets caller send to any IPv4 address on
// the port.
//
// The load balancer must be in caller's VPC (use [NewEndpointService]
// across VPCs), and an internet-facing one needs a private path
// (AddPrivateDNSName) or the NAT path: its public addresses are reached
// through the NAT gateway, where no security group can tell the caller
// apart. When caller is in another stack, both rules are in caller's stack;
// granting the other way round as well would make the stacks reference
// each other (docs/architectures.md shows the way out). envVar
// is a plain environment variable, which cdk-nag's AwsSolutions-ECS2 leaves
// to the caller's owner to review.
func (s *Service) GrantConnect(caller *Service, envVar string) {
	v := &validator{scope: s}
	lb := s.LoadBalancer
	callerPath := ""
	if caller != nil {
		callerPath = *caller.Node().Path()
	}
	switch {
	case caller == nil:
		v.fail("GrantConnect caller", "", "is required")
	case !isTokenString(envVar) && !envVarName.MatchString(envVar):
		v.failf("GrantConnect envVar", fmt.Sprintf("%q", envVar), "must be letters, digits and underscores, not starting with a digit")
	case strings.HasPrefix(envVar, "TLS_"):
		v.failf("GrantConnect envVar", fmt.Sprintf("%q", envVar), "is in the TLS_ namespace of the certificate variables; choose another name")
	case !sameVpc(caller.Service.Cluster().Vpc(), lb.Vpc):
		v.failf("GrantConnect caller", callerPath, "is in another VPC than load balancer %s, which it cannot reach; expose the load balancer to other VPCs through PrivateLink (NewEndpointService)", *lb.Node().Path())
	case lb.internetFacing && lb.callers.privateDNSName == nil && lb.callers.nat == nil:
		v.failf("GrantConnect caller", callerPath, "would reach internet-facing load balancer %s at its public addresses, through the NAT gateway, where its security group cannot tell the caller apart; give it a private path first with AddPrivateDNSName, or accept the NAT path with AllowCallersThroughNAT", *lb.Node().Path())
	case lb.callers.privateDNSName == nil && !lb.dnsNameKnown:
		v.failf("GrantConnect caller", callerPath, "needs the DNS name of imported load balancer %s; set LoadBalancerAttributes.DNSName or PrivateDNSName", *lb.Node().Path())
	}
	var freshNAT []int
	switch {
	case v.err != nil:
	case lb.callers.nat != nil && lb.callers.privateDNSName == nil:
		freshNAT = lb.reserveNATPath(v, callerPath, s.ListenerPort)
	default:
		lb.reserveIngress(v, "GrantConnect caller", callerPath, caller.SecurityGroup, s.ListenerPort)
	}
	v.check()

	host := lb.callers.privateDNSName
	if host == nil {
		host = lb.DNSName()
	}
	port := formatNumber(*s.ListenerPort)
	if isToken(*s.ListenerPort) {
		port = *awscdk.Token_AsString(s.ListenerPort, nil)
	}
	caller.Container.AddEnvironment(jsii.String(envVar), jsii.String(*host+":"+port))
	if lb.callers.privateDNSRecord != nil {
		// The caller is given the name, not a reference to the record: its
		// tasks start once the record exists.
		caller.Service.Node().AddDependency(lb.callers.privateDNSRecord)
	}
	if lb.callers.nat != nil && lb.callers.privateDNSName == nil {
		lb.admitThroughNAT(caller, s.ListenerPort, freshNAT)
		return
	}
	caller.Connections().AllowTo(lb, awsec2.Port_Tcp(s.ListenerPort),
		jsii.String(fmt.Sprintf("Passthrough %s to %s", *caller.Node().Id(), *s.Node().Id())))
}
