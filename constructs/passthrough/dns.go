package passthrough

import (
	"fmt"
	"strings"

	elbv2 "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/jsii-runtime-go"
)

// PrivateDNSTTL is the time to live of the record that AddPrivateDNSName
// writes with the private addresses of an internet-facing load balancer. A
// Network Load Balancer keeps one address per subnet for as long as the
// subnet stays attached, so the record only changes when the load balancer
// or its subnets change, and the lookup runs again then.
const PrivateDNSTTL = 300

// AddDNSName adds an alias record named recordName (relative to the zone, or
// fully qualified) to zone, pointing at the load balancer: an A record, and
// with DualStack an AAAA record too. It lets the services' certificates name
// a stable host instead of the load balancer's generated DNS name, which
// changes whenever the load balancer is replaced. The name resolves to what
// the load balancer's own DNS name resolves to: public addresses for an
// internet-facing load balancer, even in a private hosted zone, and private
// ones for an internal load balancer. For a name that callers inside the VPC
// reach an internet-facing load balancer by, use AddPrivateDNSName.
func (lb *LoadBalancer) AddDNSName(zone awsroute53.IHostedZone, recordName string) awsroute53.ARecord {
	v := &validator{scope: lb}
	lb.checkRecord(v, "AddDNSName", zone, recordName)
	if v.err == nil && lb.imported && (!lb.dnsNameKnown || !lb.hostedZoneKnown) {
		v.failf("AddDNSName", fmt.Sprintf("%q", recordName), "needs the DNS name and canonical hosted zone of imported load balancer %s; set LoadBalancerAttributes.DNSName and CanonicalHostedZoneID", *lb.Node().Path())
	}
	v.check()
	return lb.addAlias(zone, recordName)
}

// AddPrivateDNSName adds a record named recordName to zone, a private hosted
// zone associated with the load balancer's VPC, that resolves to the load
// balancer's private addresses. Callers granted with [Service.GrantConnect]
// connect to the first such name instead of the load balancer's DNS name;
// give it to the certificates of the services they call.
//
// For an internal load balancer the record is an alias, like AddDNSName's.
// For an internet-facing one, whose DNS name resolves to public addresses
// that callers in the VPC would reach through the NAT gateway, it is an A
// record with the private addresses of its nodes, one per subnet, which a
// custom resource reads from its network interfaces at deploy time: neither
// CloudFormation nor Elastic Load Balancing returns them (docs/architectures.md
// and docs/network.md). A subnet without an address fails
// the deployment, so the record is never partial. The other way for
// callers is AllowCallersThroughNAT.
func (lb *LoadBalancer) AddPrivateDNSName(zone awsroute53.IPrivateHostedZone, recordName string) awsroute53.ARecord {
	v := &validator{scope: lb}
	lb.checkRecord(v, "AddPrivateDNSName", zone, recordName)
	switch {
	case v.err != nil:
	case lb.callers.nat != nil:
		v.failf("AddPrivateDNSName", fmt.Sprintf("%q", recordName), "cannot be used on load balancer %s, whose callers take the NAT path (AllowCallersThroughNAT); callers take one path", *lb.Node().Path())
	case lb.imported && lb.internetFacing:
		v.failf("AddPrivateDNSName", fmt.Sprintf("%q", recordName), "cannot look up the private addresses of imported internet-facing load balancer %s; add the name in the app that owns it and pass it as LoadBalancerAttributes.PrivateDNSName", *lb.Node().Path())
	case lb.imported && (!lb.dnsNameKnown || !lb.hostedZoneKnown):
		v.failf("AddPrivateDNSName", fmt.Sprintf("%q", recordName), "needs the DNS name and canonical hosted zone of imported load balancer %s; set LoadBalancerAttributes.DNSName and CanonicalHostedZoneID", *lb.Node().Path())
	}
	v.check()

	var record awsroute53.ARecord
	if lb.internetFacing {
		record = lb.addPrivateAddresses(zone, recordName)
	} else {
		record = lb.addAlias(zone, recordName)
	}
	if lb.callers.privateDNSName == nil {
		lb.callers.privateDNSName = fullyQualified(zone, recordName, record)
		lb.callers.privateDNSRecord = record
	}
	return record
}

// PrivateDNSName is the first name added with AddPrivateDNSName (or given
// as LoadBalancerAttributes.PrivateDNSName), fully qualified and without the
// final dot, or nil.
func (lb *LoadBalancer) PrivateDNSName() *string {
	return lb.callers.privateDNSName
}

// fullyQualified is the name of record, as aws-cdk-lib writes it from
// recordName and the zone's name, without the final dot: written out, so
// that callers are given the very name their certificates are issued for,
// not a reference to the record. With a zone name that is a token it is the
// record's own reference.
func fullyQualified(zone awsroute53.IHostedZone, recordName string, record awsroute53.ARecord) *string {
	zoneName := strings.TrimSuffix(*zone.ZoneName(), ".")
	if isTokenString(zoneName) || isTokenString(recordName) {
		return record.DomainName()
	}
	if strings.HasSuffix(recordName, ".") {
		return jsii.String(strings.TrimSuffix(recordName, "."))
	}
	if recordName == zoneName || strings.HasSuffix(recordName, "."+zoneName) {
		return jsii.String(recordName)
	}
	return jsii.String(recordName + "." + zoneName)
}

func (lb *LoadBalancer) checkRecord(v *validator, method string, zone awsroute53.IHostedZone, recordName string) {
	switch {
	case zone == nil:
		v.failf(method, "zone", "is required")
	case recordName == "":
		v.failf(method, `""`, "is an empty record name; name the record relative to the zone, or fully qualified")
	}
}

// recordID is the construct ID of the record for recordName in zone.
func recordID(kind string, zone awsroute53.IHostedZone, recordName string) *string {
	return jsii.String(fmt.Sprintf("%s %s %s", kind, *zone.Node().Id(), recordName))
}

// nlbAlias is a Route 53 alias target for a Network Load Balancer: its own
// DNS name, with no "dualstack." prefix, whether the load balancer is
// IPv4-only or dual-stack. aws-cdk-lib's LoadBalancerTarget adds the prefix,
// which AWS documents for Application and Classic Load Balancers only
// (docs/network.md, "Route 53 aliases of a Network Load Balancer").
type nlbAlias struct{ lb elbv2.INetworkLoadBalancer }

func (a *nlbAlias) Bind(_ awsroute53.IRecordSet, _ awsroute53.IHostedZone) *awsroute53.AliasRecordTargetConfig {
	return &awsroute53.AliasRecordTargetConfig{
		DnsName:      a.lb.LoadBalancerDnsName(),
		HostedZoneId: a.lb.LoadBalancerCanonicalHostedZoneId(),
	}
}

func (lb *LoadBalancer) addAlias(zone awsroute53.IHostedZone, recordName string) awsroute53.ARecord {
	target := awsroute53.RecordTarget_FromAlias(&nlbAlias{lb: lb.NLB})
	record := awsroute53.NewARecord(lb, recordID("Alias", zone, recordName), &awsroute53.ARecordProps{
		Zone:       zone,
		RecordName: jsii.String(recordName),
		Target:     target,
	})
	if lb.dualStack {
		awsroute53.NewAaaaRecord(lb, recordID("AliasIPv6", zone, recordName), &awsroute53.AaaaRecordProps{
			Zone:       zone,
			RecordName: jsii.String(recordName),
			Target:     target,
		})
	}
	return record
}
