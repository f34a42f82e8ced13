package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
)

// Parameters of the ACM certificate example: the public hosted zone in
// which ACM validates the name, and the name itself. No defaults:
// synthesis needs no zone, and a deployment without them fails before
// CloudFormation creates anything, naming them.
const (
	HostedZoneIDParameter = "HostedZoneId"
	DomainNameParameter   = "DomainName"
)

// ACMCertificateStackProps configures [NewACMCertificateStack].
type ACMCertificateStackProps struct {
	awscdk.StackProps
	// Workload of the TLS service. Required.
	Workload Workload
}

// NewACMCertificateStack is architecture 1 with one service whose
// certificate is an exportable public certificate from AWS Certificate
// Manager: ACM validates DomainName in the hosted zone and renews the
// certificate, passthrough.NewExportedCertificate exports each issue into
// the secret the container reads (key encrypted, passphrase in a secret
// of its own), and every export rolls the service out. Point DomainName at
// the load balancer (an alias record, or LoadBalancer.AddDNSName with a
// zone known at synth: its name becomes part of construct IDs, which a
// parameter cannot be). ACM charges for each issue and
// renewal of an exportable certificate (README, "Certificate rotation").
func NewACMCertificateStack(scope constructs.Construct, id string, props *ACMCertificateStackProps) awscdk.Stack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)
	ops := opsTopic(stack)
	complyStrictly(stack, ops)
	param := func(name, description, pattern string) *string {
		return awscdk.NewCfnParameter(stack, jsii.String(name), &awscdk.CfnParameterProps{
			Type:           jsii.String("String"),
			Description:    jsii.String(description),
			AllowedPattern: jsii.String(pattern),
		}).ValueAsString()
	}
	// ACM's validation records need the zone's ID alone.
	zone := awsroute53.HostedZone_FromHostedZoneId(stack, jsii.String("Zone"),
		param(HostedZoneIDParameter, "ID of the public Route 53 hosted zone in which ACM validates DomainName (Z...)", `^Z[A-Z0-9]{1,31}$`))
	domain := param(DomainNameParameter, "Name of the service in the hosted zone (api.example.com): the certificate's name; point it at the load balancer's DNS name", `^[a-z0-9.-]+$`)

	cluster := passthrough.NewCluster(stack, jsii.String("Cluster"), nil)
	lb := passthrough.NewLoadBalancer(stack, jsii.String("LoadBalancer"), &passthrough.LoadBalancerProps{
		Vpc:    cluster.Vpc,
		Alarms: &passthrough.AlarmProps{Topic: ops},
	})
	cert := passthrough.NewExportedCertificate(stack, jsii.String("ApiCertificate"), &passthrough.ExportedCertificateProps{
		DomainName: domain,
		HostedZone: zone,
		Topic:      ops,
	})
	service := tlsServerProps(props.Workload, nil, false)
	service.Certificate = cert.Certificate()
	service.Cluster = cluster
	service.LoadBalancer = lb
	service.Alarms = &passthrough.AlarmProps{Topic: ops}
	api := passthrough.NewFargateService(stack, jsii.String("Api"), &passthrough.FargateServiceProps{ServiceProps: service})
	acknowledgePlainEnvironment(api)
	return stack
}
