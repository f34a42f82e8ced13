package passthrough

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// IDs of the warnings the constructs add, for awscdk.Annotations_Of(c).
// AcknowledgeWarning when a configuration is intended.
const (
	// WarningAdministrationPort is added to a service whose listener on an
	// administration or database port faces the internet.
	WarningAdministrationPort = "passthrough:administrationPortOnInternet"
	// WarningInternalOpenToAnyAddress is added to an internal load
	// balancer whose AllowedClients include 0.0.0.0/0 or ::/0.
	WarningInternalOpenToAnyAddress = "passthrough:internalLoadBalancerOpenToAnyAddress"
)

// administrationPorts are ports of remote administration, cluster control
// and data stores: services that scanners probe on every internet address,
// and that belong behind a private path, not on an internet-facing load
// balancer.
var administrationPorts = map[float64]string{
	22: "SSH", 23: "Telnet", 445: "SMB", 1433: "SQL Server", 1521: "Oracle Database",
	2375: "Docker API", 2376: "Docker API over TLS", 2379: "etcd", 3306: "MySQL",
	3389: "RDP", 5432: "PostgreSQL", 5601: "Kibana", 5900: "VNC", 5984: "CouchDB",
	6379: "Redis", 6443: "Kubernetes API", 9042: "Cassandra", 9200: "Elasticsearch/OpenSearch",
	9300: "Elasticsearch transport", 10250: "kubelet", 11211: "Memcached", 27017: "MongoDB",
}

// isAnyAddress tells whether peer is every IPv4 or every IPv6 address.
func isAnyAddress(peer awsec2.IPeer) bool {
	id := *peer.UniqueId()
	return id == "0.0.0.0/0" || id == "::/0"
}

// anyAddresses lists the peers that are every address, as written.
func anyAddresses(peers []awsec2.IPeer) []string {
	var out []string
	for _, p := range peers {
		if isAnyAddress(p) {
			out = append(out, *p.UniqueId())
		}
	}
	return out
}

// warnInternalOpenToAnyAddress warns about an internal load balancer that
// admits every address: everything routed to the VPC reaches it.
func (lb *LoadBalancer) warnInternalOpenToAnyAddress() {
	if lb.internetFacing {
		return
	}
	if open := anyAddresses(lb.ingress.clients); len(open) > 0 {
		awscdk.Annotations_Of(lb).AddWarningV2(jsii.String(WarningInternalOpenToAnyAddress), jsii.String(fmt.Sprintf(
			"internal load balancer %s admits %s (AllowedClients) on its listener ports: every network routed to the VPC (peered VPCs, VPN, Direct Connect, transit gateways) reaches them; name the clients' ranges or security groups instead",
			*lb.Node().Path(), strings.Join(open, " and "))))
	}
}

// exposure is what cdk-nag is told about the client rules of an
// internet-facing load balancer: whether its group records the
// AwsSolutions-EC23 suppression, and whether an administration port faces
// any address there, so that it never may.
type exposure struct{ ec23Suppressed, adminExposed bool }

// exposeListener records, for the client rules of a listener port that
// owner just opened, what a reviewer must see: a warning for an
// administration port that faces the internet, and cdk-nag's
// AwsSolutions-EC23 finding on the load balancer's group left visible for
// it. On other ports, the any-address ingress of an internet-facing load
// balancer is the design, and EC23 is suppressed on its group with the
// reason, once any-address rules exist there.
func (lb *LoadBalancer) exposeListener(owner constructs.Construct, port float64, group awsec2.ISecurityGroup) {
	if !lb.internetFacing || lb.ingress.private[port] {
		return
	}
	open := anyAddresses(lb.ingress.clients)
	if name, admin := administrationPorts[port]; admin {
		clients := "its AllowedClients"
		if len(open) > 0 {
			clients = strings.Join(open, " and ")
		}
		awscdk.Annotations_Of(owner).AddWarningV2(jsii.String(WarningAdministrationPort), jsii.String(fmt.Sprintf(
			"ListenerPort %s (%s) of %s faces the internet on load balancer %s, open to %s: administration and database ports are probed on every internet address; use another listener port, list it in PrivateListenerPorts, or put the service behind an internal load balancer",
			formatNumber(port), name, *owner.Node().Path(), *lb.Node().Path(), clients)))
		if len(open) > 0 {
			lb.review.adminExposed = true
			if lb.review.ec23Suppressed {
				dropNagSuppression(lb.SecurityGroup, "AwsSolutions-EC23")
				lb.review.ec23Suppressed = false
			}
		}
		return
	}
	// Only the load balancer's own group carries its inline client rules;
	// rules added from another stack or app are resources of their own.
	if len(open) == 0 || lb.review.adminExposed || lb.review.ec23Suppressed || group != lb.SecurityGroup || lb.imported {
		return
	}
	suppressNag(lb.SecurityGroup, nagSuppression{
		id:        "AwsSolutions-EC23",
		reason:    "An internet-facing load balancer admits the internet, on its listener ports only; every target behind it admits this group only. None of its listener ports is an administration or database port.",
		droppable: true,
	})
	lb.review.ec23Suppressed = true
}
