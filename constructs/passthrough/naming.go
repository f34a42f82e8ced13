package passthrough

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	elbv2 "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
)

// Names and construct IDs decide what CloudFormation does to a deployed
// resource on the next update: a changed fixed name, or a changed logical
// ID, replaces it. The ones here are chosen so that a resource is replaced
// exactly when it must be, and never lands on a name that another resource
// still holds.

// maxAlarmName is CloudWatch's limit on an alarm name (PutMetricAlarm,
// AlarmName: at most 255 characters).
const maxAlarmName = 255

// alarmName is "<stack name>-<path below the stack>-<what>-<hash>", with the
// path's slashes as hyphens: readable in a list of alarms, and beginning with
// the stack's name, by which a topic admits the stack's alarms (see
// admitAlarms). The hash is of the alarm's whole construct path, so that two
// paths that read the same with hyphens ("Api-v2/Alarm" and "Api/v2-Alarm")
// never share a name, and a renamed construct never lands on the name its
// old self still holds: CloudFormation creates the new alarm before it
// deletes the old logical ID, and PutMetricAlarm would overwrite the live
// alarm, which the deletion then removes. A name past the limit loses the
// end of its path part; the stack's name, what and the hash stay.
func alarmName(stack awscdk.Stack, path, what string) string {
	sum := sha256.Sum256([]byte(path + "\x00" + what))
	prefix := *stack.StackName() + "-"
	tail := "-" + what + "-" + hex.EncodeToString(sum[:4])
	middle := strings.ReplaceAll(relativePath(stack, path), "/", "-")
	return prefix + truncate(middle, maxAlarmName-len(prefix)-len(tail)) + tail
}

// truncate cuts s to at most n bytes, on a character boundary.
func truncate(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// maxDimensionValue is the longest CloudWatch dimension value aws-cdk-lib
// accepts.
const maxDimensionValue = 255

// metricServiceName is the certificate metric's dimension value for the
// service at path: "<stack name>/<path below the stack>", or for a longer
// one its first characters and a hash of the whole, so that it stays unique
// and within what a dimension value may hold.
func metricServiceName(stack awscdk.Stack, stackName, path string) string {
	name := stackName + "/" + relativePath(stack, path)
	if len(name) <= maxDimensionValue {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return truncate(name, maxDimensionValue-9) + "-" + hex.EncodeToString(sum[:4])
}

// ruleNameInvalid matches what EventBridge does not accept in a rule name,
// which may have at most maxRuleName characters.
var ruleNameInvalid = regexp.MustCompile(`[^A-Za-z0-9._-]`)

const maxRuleName = 64

// ruleName is a rule's name, "<stack>-<path below the stack>-<what>", with
// characters EventBridge does not accept replaced by hyphens; a longer one
// is cut and ends in a hash of the whole, so that it stays unique.
func ruleName(stack awscdk.Stack, path, what string) string {
	name := *stack.StackName() + "-" + strings.ReplaceAll(relativePath(stack, path), "/", "-") + "-" + what
	name = ruleNameInvalid.ReplaceAllString(name, "-")
	if len(name) <= maxRuleName {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return name[:maxRuleName-9] + "-" + hex.EncodeToString(sum[:4])
}

// stackPaths caches each stack's construct path: jsii hands back the same Go
// value for the same stack.
var stackPaths sync.Map

// relativePath is the construct path below stack. The stack's own path, not
// its name, is cut off: inside a Stage the stack "Payments" of stage "Prod"
// is named "Prod-Payments" but has the path "Prod/Payments".
func relativePath(stack awscdk.Stack, path string) string {
	p, ok := stackPaths.Load(stack)
	if !ok {
		p = *stack.Node().Path()
		stackPaths.Store(stack, p)
	}
	return strings.TrimPrefix(path, p.(string)+"/")
}

// targetGroupID is the construct ID of a service's target group:
// "TargetGroup" and a hash of the identity of the load balancer it serves
// (see identity), so that the target group's logical ID changes exactly
// when the load balancer is replaced or the service moves to another one.
// A target group can serve one load balancer only, and CloudFormation
// creates the new load balancer and its listeners before it deletes the old
// ones: with the same target group, the new listeners would attach it to the
// second load balancer, which Elastic Load Balancing refuses ("The following
// target groups cannot be associated with more than one load balancer",
// aws/aws-cdk#33253; the workaround of aws/aws-cdk#24219, a target group
// whose identity follows the load balancer's).
func targetGroupID(lb *LoadBalancer) string {
	sum := sha256.Sum256([]byte(lb.identity()))
	return "TargetGroup" + hex.EncodeToString(sum[:4])
}

// identity is what replaces the load balancer when it changes: its
// construct path (which gives its logical ID and stack), its scheme and its
// name ("Update requires: Replacement" for Scheme, Name and Type of
// AWS::ElasticLoadBalancingV2::LoadBalancer). Subnets, security groups, IP
// address type and attributes update in place and are not part of it. A
// name that is a token (a parameter) is known only at deploy time, so its
// changes cannot be followed; an imported load balancer is known by its ARN,
// or by its construct path when the ARN is a token.
func (lb *LoadBalancer) identity() string {
	path := *lb.Node().Path()
	if lb.nlb == nil {
		if arn := *lb.NLB.LoadBalancerArn(); !isTokenString(arn) {
			return "imported|" + arn
		}
		return "imported|" + path
	}
	cfn := lb.nlb.Node().DefaultChild().(elbv2.CfnLoadBalancer)
	name := ""
	if n := cfn.Name(); n != nil {
		name = *n
		if isTokenString(name) {
			name = "token"
		}
	}
	scheme := ""
	if s := cfn.Scheme(); s != nil {
		scheme = *s
	}
	return strings.Join([]string{path, scheme, name}, "|")
}
