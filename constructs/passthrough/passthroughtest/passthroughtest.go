// Package passthroughtest checks a synthesized CloudFormation template for
// the guarantees that Passthrough's constructs make, for the tests of a CDK
// app that uses them, as the repository's own tests check its examples:
//
//   - the load balancer does not touch TLS: every listener is TCP, and no
//     listener has a certificate, a TLS policy or an ALPN policy;
//   - every listener reaches an ECS service, and its security groups open
//     each hop of the way: clients to the listener port, the load balancer
//     out to its targets, the targets in from the load balancer;
//   - nothing else is open: every security group rule serves one of those
//     paths (or an interface VPC endpoint), no group is left with EC2's
//     default allow-all egress, and every load balancer has a security
//     group.
//
// It reads only the template, not the constructs that made it, so it also
// catches what an app adds around them: a rule opened by hand, a second
// listener, a service no listener reaches.
package passthroughtest

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/passthrough-cdk/passthrough/internal/reach"
)

// Problems lists, one sentence each, what in a synthesized template (the
// JSON that `cdk synth` writes to cdk.out) breaks one of the guarantees in
// the package documentation. No problems means they all hold. It returns an
// error only for data that is not a CloudFormation template.
//
// A template without a listener is a problem: it would pass every other
// check without anything in it being passed through.
func Problems(template []byte) ([]string, error) {
	var tpl map[string]any
	if err := json.Unmarshal(template, &tpl); err != nil {
		return nil, fmt.Errorf("passthroughtest: decode template: %w", err)
	}
	report, err := reach.Analyze(tpl)
	if err != nil {
		return nil, fmt.Errorf("passthroughtest: %w", err)
	}
	problems := tlsProblems(tpl)
	if len(report.Listeners) == 0 {
		problems = append(problems, "no load balancer listener: nothing in this template passes TLS through")
	}
	return append(problems, report.Problems()...), nil
}

// Resource types and listener properties that would make a load balancer
// take part in TLS.
const (
	typeListener            = "AWS::ElasticLoadBalancingV2::Listener"
	typeListenerCertificate = "AWS::ElasticLoadBalancingV2::ListenerCertificate"
)

var tlsListenerProperties = []string{"Certificates", "SslPolicy", "AlpnPolicy"}

// tlsProblems finds listeners that are not TCP or carry TLS settings, and
// certificates attached to listeners.
func tlsProblems(tpl map[string]any) []string {
	resources, _ := tpl["Resources"].(map[string]any)
	ids := make([]string, 0, len(resources))
	for id := range resources {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var out []string
	for _, id := range ids {
		res, _ := resources[id].(map[string]any)
		props, _ := res["Properties"].(map[string]any)
		switch res["Type"] {
		case typeListener:
			if p := props["Protocol"]; p != "TCP" {
				out = append(out, fmt.Sprintf("listener %s has protocol %v: only a TCP listener passes TLS through to the container", id, p))
			}
			for _, key := range tlsListenerProperties {
				if _, ok := props[key]; ok {
					out = append(out, fmt.Sprintf("listener %s sets %s: the load balancer must not take part in TLS", id, key))
				}
			}
		case typeListenerCertificate:
			out = append(out, fmt.Sprintf("%s is a listener certificate: the load balancer must not hold a certificate", id))
		}
	}
	return out
}
