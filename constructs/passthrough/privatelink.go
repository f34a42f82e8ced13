package passthrough

import (
	"fmt"
	"regexp"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	elbv2 "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// AnyPrincipal in EndpointServiceProps.AllowedPrincipals lets every AWS
// account request a connection.
const AnyPrincipal = "*"

var accountID = regexp.MustCompile(`^[0-9]{12}$`)

// EndpointServiceProps configures an [EndpointService].
type EndpointServiceProps struct {
	// LoadBalancer to expose. Every listener of it becomes reachable through
	// the endpoint service, so put only the services meant for consumers on
	// it. Required.
	LoadBalancer *LoadBalancer
	// AllowedPrincipals may create interface endpoints to the service: AWS
	// account IDs (12 digits, allowing the whole account), IAM ARNs (a role
	// or user, or arn:aws:iam::ACCOUNT:root), or AnyPrincipal, which allows
	// every AWS account and is refused without AcceptanceRequired.
	// Default: none; no consumer can connect until principals are added.
	AllowedPrincipals []string
	// AcceptanceRequired holds every new endpoint connection until the
	// provider accepts it (aws ec2 accept-vpc-endpoint-connections), so that
	// an allowed principal still cannot connect unseen.
	// Default: true.
	AcceptanceRequired *bool
}

// EndpointService exposes a passthrough [LoadBalancer] to other VPCs and
// accounts through AWS PrivateLink: consumers create an interface VPC
// endpoint to it and connect to the endpoint's addresses in their own VPC,
// whose ranges may overlap the provider's. TLS still passes through to the
// containers untouched. Behind PrivateLink the containers see the load
// balancer's private addresses, never the consumer's; PROXY protocol
// (ServiceProps.ProxyProtocol) carries the client's address if they need it.
//
// The load balancer's security group stops filtering PrivateLink traffic
// (unless LoadBalancerProps.EnforceSecurityGroupOnPrivateLink is set): access
// is decided by AllowedPrincipals, connection acceptance and each consumer's
// endpoint security group. Load balancers that no endpoint service fronts
// keep Elastic Load Balancing's default, enforcement on.
type EndpointService struct {
	constructs.Construct
	// Service is the VPC endpoint service.
	Service awsec2.VpcEndpointService
	// LoadBalancer behind the service.
	LoadBalancer *LoadBalancer
}

// NewEndpointService creates a VPC endpoint service for props.LoadBalancer
// and a stack output with its service name, which consumers create their
// interface endpoints with.
func NewEndpointService(scope constructs.Construct, id *string, props *EndpointServiceProps) *EndpointService {
	e := &EndpointService{}
	constructs.NewConstruct_Override(e, scope, id)
	if props == nil {
		props = &EndpointServiceProps{}
	}
	v := &validator{scope: e}
	v.required("LoadBalancer", props.LoadBalancer != nil)
	acceptance := props.AcceptanceRequired == nil || *props.AcceptanceRequired
	principals := make([]awsiam.ArnPrincipal, 0, len(props.AllowedPrincipals))
	for _, p := range props.AllowedPrincipals {
		switch {
		case p == AnyPrincipal && !acceptance:
			v.failf("AllowedPrincipals", fmt.Sprintf("%q", p), "with AcceptanceRequired false would let every AWS account connect without approval; name the consumers' accounts, or leave AcceptanceRequired on")
		case p == AnyPrincipal, isTokenString(p), len(p) > 4 && p[:4] == "arn:":
			principals = append(principals, awsiam.NewArnPrincipal(jsii.String(p)))
		case accountID.MatchString(p):
			principals = append(principals, awsiam.NewArnPrincipal(jsii.String(fmt.Sprintf("arn:%s:iam::%s:root", *awscdk.Aws_PARTITION(), p))))
		default:
			v.failf("AllowedPrincipals", fmt.Sprintf("%q", p), "must be a 12-digit AWS account ID, an IAM ARN or %q", AnyPrincipal)
		}
	}
	if v.err == nil && props.LoadBalancer.imported {
		v.failf("LoadBalancer", *props.LoadBalancer.Node().Path(), "is imported; create the endpoint service in the app that owns it")
	}
	v.check()

	e.LoadBalancer = props.LoadBalancer
	e.Service = awsec2.NewVpcEndpointService(e, jsii.String("Service"), &awsec2.VpcEndpointServiceProps{
		VpcEndpointServiceLoadBalancers: &[]awsec2.IVpcEndpointServiceLoadBalancer{props.LoadBalancer.nlb},
		AcceptanceRequired:              jsii.Bool(acceptance),
		AllowedPrincipals:               &principals,
	})
	if props.LoadBalancer.enforcePrivateLink == nil {
		// See LoadBalancerProps.EnforceSecurityGroupOnPrivateLink: behind an
		// endpoint service, the consumers' addresses are not the provider's
		// to filter by.
		cfn := props.LoadBalancer.nlb.Node().DefaultChild().(elbv2.CfnLoadBalancer)
		cfn.SetEnforceSecurityGroupInboundRulesOnPrivateLinkTraffic(jsii.String("off"))
	}
	awscdk.NewCfnOutput(e, jsii.String("ServiceName"), &awscdk.CfnOutputProps{
		Description: jsii.String("Service name of the passthrough VPC endpoint service " + *e.Node().Path() + ", for consumers' interface endpoints"),
		Value:       e.Service.VpcEndpointServiceName(),
	})
	return e
}

// ServiceName of the endpoint service (com.amazonaws.vpce.REGION.vpce-svc-...),
// as a token.
func (e *EndpointService) ServiceName() *string {
	return e.Service.VpcEndpointServiceName()
}
