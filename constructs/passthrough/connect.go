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
// s's load balancer, and tells them where: the environment variable envVar
// of caller's container holds "HOST:PORT", with HOST the load balancer's
// first name from [LoadBalancer.AddPrivateDNSName], or else its DNS name, and
// PORT s's listener port. The caller verifies s's certificate against HOST,
// so a stable name from AddPrivateDNSName is what the certificate should
// carry.
//
// It adds exactly two security group rules: caller's security group (a
// Fargate service's own group, or an EC2 cluster's instance group, which
// every task on those instances shares) may send to the load balancer's
// group on the listener port, and the load balancer's group admits caller's
// group on that port. The load balancer already reaches s's targets. Client
// IP preservation is off on every target group, so a caller whose
// connection the load balancer hands to a target on the caller's own
// instance (hairpinning) is answered as usual.
//
// The load balancer must be in caller's VPC: a load balancer in another VPC
// is reached through PrivateLink ([NewEndpointService]). An internet-facing
// load balancer needs a private path first (AddPrivateDNSName), because its
// DNS name resolves to public addresses that a caller in the VPC reaches
// through the NAT gateway, where no security group can tell the caller
// apart; or, knowing that, the NAT path ([LoadBalancer.AllowCallersThroughNAT]),
// on which GrantConnect admits the NAT gateways' addresses instead of
// caller's group and lets caller send to any IPv4 address on the port. When caller is in another stack than s's load balancer, the
// caller's stack holds both rules and references the load balancer's stack;
// granting the other way round too would make the two stacks reference each
// other, which CloudFormation cannot deploy (see the README).
//
// cdk-nag's AwsSolutions-ECS2 reports plain environment variables in a task
// definition; envVar holds no secret, but the task definition may have
// others, so the finding is left to the caller's owner to review.
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
