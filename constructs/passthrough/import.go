package passthrough

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	elbv2 "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// LoadBalancerAttributes describe a passthrough load balancer that another
// CDK app created (with [NewLoadBalancer]), so that services of this app can
// attach their own listeners and target groups to it.
type LoadBalancerAttributes struct {
	// LoadBalancerARN of the Network Load Balancer. Required.
	LoadBalancerARN *string
	// SecurityGroupID of the load balancer's security group. This app adds
	// its services' client and target rules to it, as separate resources in
	// this app's stacks. Required.
	SecurityGroupID *string
	// Vpc of the load balancer. Required.
	Vpc awsec2.IVpc
	// AllowedClients are admitted to the listener ports of this app's
	// services. The other app's defaults are not known here, so they are
	// named explicitly. Required.
	AllowedClients []awsec2.IPeer
	// InternetFacing tells whether the load balancer is internet-facing, so
	// that GrantConnect can refuse callers that would reach it at its public
	// addresses.
	// Default: true.
	InternetFacing *bool
	// DNSName of the load balancer, for GrantConnect and AddDNSName.
	// Default: none; GrantConnect then needs PrivateDNSName.
	DNSName *string
	// CanonicalHostedZoneID of the load balancer, for AddDNSName's alias
	// records.
	// Default: none.
	CanonicalHostedZoneID *string
	// PrivateDNSName resolves to the load balancer's private addresses: the
	// name that the owning app added with AddPrivateDNSName. Callers granted
	// with GrantConnect connect to it.
	// Default: none.
	PrivateDNSName *string
	// ListenerPortsInUse are the listener ports of the owning app's services.
	// Listener-port conflicts are only detected among ports this app knows
	// of: the ones its own services claim, and these.
	// Default: none; a conflict with the owning app fails at deploy time.
	ListenerPortsInUse []float64
}

// ImportLoadBalancer returns a [LoadBalancer] for a passthrough load balancer
// of another CDK app, to which this app's services attach as they would to
// one of its own. The load balancer's quotas (MaxListeners, MaxIngressRules)
// are checked only against what this app adds, plus ListenerPortsInUse: the
// owning app's listeners and rules are not known here.
func ImportLoadBalancer(scope constructs.Construct, id *string, attrs *LoadBalancerAttributes) *LoadBalancer {
	lb := newLoadBalancer(scope, id)
	if attrs == nil {
		attrs = &LoadBalancerAttributes{}
	}
	v := &validator{scope: lb}
	v.required("LoadBalancerARN", attrs.LoadBalancerARN != nil)
	v.required("SecurityGroupID", attrs.SecurityGroupID != nil)
	v.required("Vpc", attrs.Vpc != nil)
	if len(attrs.AllowedClients) == 0 {
		v.fail("AllowedClients", "", "is required: name the clients admitted to this app's listener ports")
	}
	for _, port := range attrs.ListenerPortsInUse {
		p := port
		v.intRange("ListenerPortsInUse", &p, 1, 65535)
	}
	v.check()

	lb.imported = true
	lb.Vpc = attrs.Vpc
	lb.ingress.clients = attrs.AllowedClients
	lb.internetFacing = attrs.InternetFacing == nil || *attrs.InternetFacing
	lb.dnsNameKnown = attrs.DNSName != nil
	lb.hostedZoneKnown = attrs.CanonicalHostedZoneID != nil
	lb.callers.privateDNSName = attrs.PrivateDNSName
	lb.warnInternalOpenToAnyAddress()
	for _, port := range attrs.ListenerPortsInUse {
		lb.listeners.owner[port] = "a service of the app that owns it (ListenerPortsInUse)"
		lb.listeners.n++
	}
	lb.SecurityGroup = awsec2.SecurityGroup_FromSecurityGroupId(lb, jsii.String("SecurityGroup"), attrs.SecurityGroupID, &awsec2.SecurityGroupImportOptions{
		AllowAllOutbound: jsii.Bool(false),
		Mutable:          jsii.Bool(true),
	})
	lb.NLB = elbv2.NetworkLoadBalancer_FromNetworkLoadBalancerAttributes(lb, jsii.String("NLB"), &elbv2.NetworkLoadBalancerAttributes{
		LoadBalancerArn:                   attrs.LoadBalancerARN,
		Vpc:                               attrs.Vpc,
		LoadBalancerDnsName:               attrs.DNSName,
		LoadBalancerCanonicalHostedZoneId: attrs.CanonicalHostedZoneID,
		LoadBalancerSecurityGroups:        &[]*string{attrs.SecurityGroupID},
	})
	return lb
}
