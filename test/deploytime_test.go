package test

// Guarantees about what happens at deploy and run time that synthesis does
// not show by itself: the order CloudFormation creates and deletes
// resources in, who may publish to a topic, which metric an alarm watches,
// what a parameter accepts. Each test reads the template of every example,
// so that no later change can quietly take one back.

import (
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/passthrough-cdk/passthrough/examples/stacks"
	"github.com/passthrough-cdk/passthrough/internal/cdktest"
)

// The account, Region and partition that pseudo parameters stand for when
// the tests evaluate a policy.
const (
	dtAccount   = "111122223333"
	dtRegion    = "eu-west-1"
	dtPartition = "aws"
)

// dtResolve renders a template value as the string CloudFormation would
// make of it in dtAccount and dtRegion; a reference to a resource becomes
// "REF:<logical ID>" and an attribute "GETATT:<logical ID>.<attribute>".
func dtResolve(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return fmt.Sprint(v)
	case map[string]any:
		if ref, ok := v["Ref"].(string); ok {
			switch ref {
			case "AWS::AccountId":
				return dtAccount
			case "AWS::Region":
				return dtRegion
			case "AWS::Partition":
				return dtPartition
			case "AWS::URLSuffix":
				return "amazonaws.com"
			}
			return "REF:" + ref
		}
		if ga, ok := v["Fn::GetAtt"].([]any); ok && len(ga) == 2 {
			return fmt.Sprintf("GETATT:%v.%v", ga[0], ga[1])
		}
		if join, ok := v["Fn::Join"].([]any); ok && len(join) == 2 {
			var parts []string
			for _, p := range join[1].([]any) {
				parts = append(parts, dtResolve(p))
			}
			return strings.Join(parts, join[0].(string))
		}
	}
	b, _ := json.Marshal(v)
	return "UNRESOLVED:" + string(b)
}

// dtStrings is a policy element that is one value or a list, resolved.
func dtStrings(v any) []string {
	if list, ok := v.([]any); ok {
		var out []string
		for _, e := range list {
			out = append(out, dtResolve(e))
		}
		return out
	}
	if v == nil {
		return nil
	}
	return []string{dtResolve(v)}
}

// dtGlob matches s against an IAM pattern with * and ?.
func dtGlob(pattern, s string) bool {
	ok, err := path.Match(strings.ReplaceAll(pattern, "/", "\x00"), strings.ReplaceAll(s, "/", "\x00"))
	return err == nil && ok
}

// dtRequest is one request a policy is evaluated for.
type dtRequest struct {
	service   string // service principal, or ""
	principal string // IAM principal ARN, or ""
	action    string
	resource  string
	context   map[string]string
}

// dtMatches tells whether statement applies to request: principal, action,
// resource and every condition (a condition key absent from the request's
// context does not match, as in IAM for operators without IfExists).
func dtMatches(statement map[string]any, r dtRequest) bool {
	switch p := statement["Principal"].(type) {
	case string:
		if p != "*" {
			return false
		}
	case map[string]any:
		matched := false
		for _, s := range dtStrings(p["Service"]) {
			matched = matched || (r.service != "" && s == r.service)
		}
		for _, a := range dtStrings(p["AWS"]) {
			matched = matched || a == "*" || (r.principal != "" && a == r.principal)
		}
		if !matched {
			return false
		}
	default:
		return false
	}
	if !slices.ContainsFunc(dtStrings(statement["Action"]), func(a string) bool { return dtGlob(strings.ToLower(a), strings.ToLower(r.action)) }) {
		return false
	}
	if !slices.ContainsFunc(dtStrings(statement["Resource"]), func(res string) bool { return dtGlob(res, r.resource) }) {
		return false
	}
	conditions, _ := statement["Condition"].(map[string]any)
	for op, entries := range conditions {
		for key, want := range entries.(map[string]any) {
			got, present := r.context[strings.ToLower(key)]
			if !present {
				return false
			}
			values := dtStrings(want)
			var ok bool
			switch op {
			case "StringEquals", "ArnEquals", "Bool":
				ok = slices.Contains(values, got)
			case "StringLike", "ArnLike":
				ok = slices.ContainsFunc(values, func(v string) bool { return dtGlob(v, got) })
			default:
				panic("policy condition operator " + op + " is not evaluated by this test; add it")
			}
			if !ok {
				return false
			}
		}
	}
	return true
}

// dtAllowed tells whether statements allow request and deny it nowhere.
func dtAllowed(statements []map[string]any, r dtRequest) bool {
	r.context["aws:securetransport"] = "true"
	allowed := false
	for _, s := range statements {
		if !dtMatches(s, r) {
			continue
		}
		if s["Effect"] == "Deny" {
			return false
		}
		allowed = true
	}
	return allowed
}

func dtStatements(doc any) []map[string]any {
	var out []map[string]any
	d, _ := doc.(map[string]any)
	list, _ := d["Statement"].([]any)
	for _, s := range list {
		out = append(out, s.(map[string]any))
	}
	return out
}

// dtTopicPolicy is the policy the template gives the topic with logical ID
// topic, and the policy of the KMS key that encrypts it if the key is in
// the template (nil otherwise).
func dtTopicPolicy(t *testing.T, tpl *cdktest.Template, topic string) (topicPolicy, keyPolicy []map[string]any) {
	t.Helper()
	for _, p := range tpl.Resources("AWS::SNS::TopicPolicy") {
		if slices.Contains(dtStrings(p["Topics"]), "REF:"+topic) {
			topicPolicy = append(topicPolicy, dtStatements(p["PolicyDocument"])...)
		}
	}
	props := tpl.Resources("AWS::SNS::Topic")[topic]
	if key, ok := strings.CutPrefix(dtResolve(props["KmsMasterKeyId"]), "GETATT:"); ok {
		id := strings.TrimSuffix(key, ".Arn")
		keyPolicy = dtStatements(tpl.Resources("AWS::KMS::Key")[id]["KeyPolicy"])
	}
	return topicPolicy, keyPolicy
}

// dtPublisher is something the template wires to a topic.
type dtPublisher struct {
	what  string
	topic string
	// request is the request to SNS; keyContext is the context its KMS
	// request carries.
	request    dtRequest
	keyContext map[string]string
}

// dtPublishers lists every alarm action, rule target and Auto Scaling
// notification configuration in the template that names a topic of the
// template.
func dtPublishers(t *testing.T, tpl *cdktest.Template) []dtPublisher {
	t.Helper()
	topics := tpl.Resources("AWS::SNS::Topic")
	var out []dtPublisher
	topicOf := func(v any) string {
		if id, ok := strings.CutPrefix(dtResolve(v), "REF:"); ok && topics[id] != nil {
			return id
		}
		return ""
	}
	for id, a := range tpl.Resources("AWS::CloudWatch::Alarm") {
		arn := fmt.Sprintf("arn:%s:cloudwatch:%s:%s:alarm:%v", dtPartition, dtRegion, dtAccount, a["AlarmName"])
		for _, prop := range []string{"AlarmActions", "OKActions", "InsufficientDataActions"} {
			actions, _ := a[prop].([]any)
			for _, action := range actions {
				if topic := topicOf(action); topic != "" {
					ctx := map[string]string{"aws:sourcearn": arn, "aws:sourceaccount": dtAccount}
					out = append(out, dtPublisher{what: "alarm " + id + " " + prop, topic: topic, keyContext: ctx,
						request: dtRequest{service: "cloudwatch.amazonaws.com", action: "sns:Publish", context: ctx}})
				}
			}
		}
	}
	for id, r := range tpl.Resources("AWS::Events::Rule") {
		targets, _ := r["Targets"].([]any)
		for _, target := range targets {
			topic := topicOf(target.(map[string]any)["Arn"])
			if topic == "" {
				continue
			}
			name, ok := r["Name"].(string)
			if !ok {
				t.Errorf("rule %s sends to topic %s but has no literal Name to admit it by", id, topic)
				continue
			}
			arn := fmt.Sprintf("arn:%s:events:%s:%s:rule/%s", dtPartition, dtRegion, dtAccount, name)
			out = append(out, dtPublisher{what: "rule " + id, topic: topic,
				request: dtRequest{service: "events.amazonaws.com", action: "sns:Publish",
					context: map[string]string{"aws:sourcearn": arn, "aws:sourceaccount": dtAccount}},
				// AWS does not pass aws:SourceArn or aws:SourceAccount to
				// KMS for EventBridge delivery to an encrypted topic.
				keyContext: map[string]string{}})
		}
	}
	role := fmt.Sprintf("arn:%s:iam::%s:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling", dtPartition, dtAccount)
	for id, g := range tpl.Resources("AWS::AutoScaling::AutoScalingGroup") {
		configs, _ := g["NotificationConfigurations"].([]any)
		for _, c := range configs {
			if topic := topicOf(c.(map[string]any)["TopicARN"]); topic != "" {
				ctx := map[string]string{"aws:principalarn": role}
				out = append(out, dtPublisher{what: "Auto Scaling group " + id, topic: topic, keyContext: ctx,
					request: dtRequest{principal: role, action: "sns:Publish", context: ctx}})
			}
		}
	}
	return out
}

// Every publisher the library wires to a topic (CloudWatch alarms,
// EventBridge rules, Auto Scaling notifications) is admitted by the topic's
// policy, and by the policy of the KMS key that encrypts it, evaluated as
// AWS would for the publisher's own request. A topic policy replaces SNS's
// default one, so a publisher it does not name is refused at alarm time.
// Service principals are only admitted with aws:SourceAccount or
// aws:SourceArn, so that no other account's alarm or rule can publish.
func TestExamplesAdmitEveryPublisherToItsTopic(t *testing.T) {
	publishers := 0
	forEachGuarantee(t, func(t *testing.T, tpl *cdktest.Template) {
		for _, p := range dtPublishers(t, tpl) {
			publishers++
			topicPolicy, keyPolicy := dtTopicPolicy(t, tpl, p.topic)
			req := p.request
			req.resource = "REF:" + p.topic
			if topicPolicy != nil && !dtAllowed(topicPolicy, req) {
				t.Errorf("%s: the policy of topic %s does not let %s%s publish", p.what, p.topic, req.service, req.principal)
			}
			if keyPolicy == nil {
				continue
			}
			for _, action := range []string{"kms:GenerateDataKey", "kms:Decrypt"} {
				keyReq := dtRequest{service: req.service, principal: req.principal, action: action, resource: "*", context: p.keyContext}
				if !dtAllowed(keyPolicy, keyReq) {
					t.Errorf("%s: the key of topic %s does not allow %s to %s%s", p.what, p.topic, action, req.service, req.principal)
				}
			}
		}
		for id, p := range tpl.Resources("AWS::SNS::TopicPolicy") {
			for _, s := range dtStatements(p["PolicyDocument"]) {
				principal, _ := s["Principal"].(map[string]any)
				cond, _ := json.Marshal(s["Condition"])
				if s["Effect"] == "Allow" && principal["Service"] != nil &&
					!strings.Contains(string(cond), "aws:SourceArn") && !strings.Contains(string(cond), "aws:SourceAccount") {
					t.Errorf("topic policy %s admits %v without aws:SourceArn or aws:SourceAccount", id, principal["Service"])
				}
			}
		}
	})
	if publishers == 0 {
		t.Error("no example wires anything to a topic: nothing was checked")
	}
}

// dtDependsOn returns the DependsOn of resource id.
func dtDependsOn(tpl *cdktest.Template, id string) []string {
	resources, _ := tpl.JSON()["Resources"].(map[string]any)
	res, _ := resources[id].(map[string]any)
	return dtStrings(res["DependsOn"])
}

// Every ECS service with a capacity provider strategy depends on the
// association of its cluster's capacity providers, and every provider of
// its strategy is in that association: CloudFormation then creates the
// service only once the providers are associated, and deletes the
// association only once the service is gone.
func TestExamplesServicesWaitForTheirCapacityProviders(t *testing.T) {
	checked := 0
	forEachGuarantee(t, func(t *testing.T, tpl *cdktest.Template) {
		associations := tpl.Resources("AWS::ECS::ClusterCapacityProviderAssociations")
		for id, svc := range tpl.Resources(typeService) {
			strategy, _ := svc["CapacityProviderStrategy"].([]any)
			if len(strategy) == 0 {
				continue
			}
			checked++
			deps := dtDependsOn(tpl, id)
			found := false
			for aid, a := range associations {
				if dtResolve(a["Cluster"]) != dtResolve(svc["Cluster"]) {
					continue
				}
				found = true
				if !slices.Contains(deps, aid) {
					t.Errorf("service %s has a capacity provider strategy but does not depend on %s (DependsOn %v)", id, aid, deps)
				}
				providers := dtStrings(a["CapacityProviders"])
				for _, s := range strategy {
					if p := dtResolve(s.(map[string]any)["CapacityProvider"]); !slices.Contains(providers, p) {
						t.Errorf("service %s uses capacity provider %s, which association %s does not associate (%v)", id, p, aid, providers)
					}
				}
			}
			if !found {
				t.Errorf("service %s has a capacity provider strategy and its cluster %s no capacity provider association", id, dtResolve(svc["Cluster"]))
			}
		}
	})
	if checked == 0 {
		t.Error("no example service has a capacity provider strategy: nothing was checked")
	}
}

// dtEnvironment returns the plain environment of each container of the
// template's task definitions, by task definition.
func dtEnvironment(tpl *cdktest.Template) map[string]map[string]string {
	out := map[string]map[string]string{}
	for id, td := range tpl.Resources(typeTaskDef) {
		env := map[string]string{}
		for _, c := range td["ContainerDefinitions"].([]any) {
			list, _ := c.(map[string]any)["Environment"].([]any)
			for _, e := range list {
				m := e.(map[string]any)
				env[m["Name"].(string)] = dtResolve(m["Value"])
			}
		}
		out[id] = env
	}
	return out
}

// The certificate expiry metric is one series per stack and service: no
// two alarms of the example app (in any stack, since metrics are per
// account and Region) watch the same series, and each watches the
// SERVICE_NAME its container publishes under. The alarm looks at several
// of the example server's hourly reports, so one missed report neither
// fires it nor blinds it.
func TestExamplesWatchOneCertificateSeriesPerService(t *testing.T) {
	const exampleServerInterval = 3600 // examples/tlsserver: CERT_METRIC_INTERVAL_SECONDS default
	series := map[string]string{}
	for _, ex := range examples(t) {
		tpl := cdktest.TemplateFromJSON(t, ex.template)
		published := map[string]bool{}
		for _, env := range dtEnvironment(tpl) {
			if v := env["SERVICE_NAME"]; v != "" {
				published[v] = true
			}
			if env["CERT_METRIC_INTERVAL_SECONDS"] != "" {
				t.Errorf("%s: a container sets CERT_METRIC_INTERVAL_SECONDS; this test assumes the server's default of %d s", ex.name, exampleServerInterval)
			}
		}
		for id, a := range tpl.Resources("AWS::CloudWatch::Alarm") {
			if a["MetricName"] != "CertificateDaysToExpiry" {
				continue
			}
			dims, _ := json.Marshal(a["Dimensions"])
			key := fmt.Sprintf("%v/%v %s", a["Namespace"], a["MetricName"], dims)
			if other, dup := series[key]; dup {
				t.Errorf("%s alarm %s and %s watch the same series %s", ex.name, id, other, key)
			}
			series[key] = ex.name + " alarm " + id
			for _, d := range a["Dimensions"].([]any) {
				if v := dtResolve(d.(map[string]any)["Value"]); !published[v] {
					t.Errorf("%s alarm %s watches ServiceName %q, which no container publishes (%v)", ex.name, id, v, published)
				}
			}
			period, _ := a["Period"].(float64)
			n, _ := a["EvaluationPeriods"].(float64)
			if period*n < 3*exampleServerInterval || a["DatapointsToAlarm"] != 1.0 {
				t.Errorf("%s alarm %s looks at %v periods of %v s with %v datapoints to alarm; want at least three reports' worth, any one of them enough", ex.name, id, n, period, a["DatapointsToAlarm"])
			}
			if m := a["TreatMissingData"]; m == "ignore" || m == "notBreaching" {
				t.Errorf("%s alarm %s treats missing data as %v: a service that stops reporting would look healthy", ex.name, id, m)
			}
		}
	}
	if len(series) == 0 {
		t.Error("no certificate expiry alarm in the examples: nothing was checked")
	}
}

// The certificate parameter accepts only a complete secret ARN, with the six
// characters Secrets Manager appends: the execution role may read exactly
// the ARN given, so a partial one deploys and then no task can start.
func TestExamplesRequireTheCompleteCertificateSecretARN(t *testing.T) {
	complete := []string{
		"arn:aws:secretsmanager:eu-west-1:111122223333:secret:passthrough/demo-AbCdEf",
		"arn:aws-us-gov:secretsmanager:us-gov-west-1:111122223333:secret:team/tls_cert+v2=x.y@z-a1B2c3",
		"arn:aws-cn:secretsmanager:cn-north-1:111122223333:secret:demo-000000",
	}
	partial := []string{
		"arn:aws:secretsmanager:eu-west-1:111122223333:secret:passthrough/demo",
		"arn:aws:secretsmanager:eu-west-1:111122223333:secret:passthrough/demo-AbCdE",
		"arn:aws:secretsmanager:eu-west-1:111122223333:secret:passthrough/demo-AbCdEf:certificate::",
		"passthrough/demo-AbCdEf",
	}
	forEachExample(t, func(t *testing.T, tpl *cdktest.Template) {
		params, _ := tpl.JSON()["Parameters"].(map[string]any)
		p, ok := params[stacks.CertificateParameter].(map[string]any)
		if !ok && len(tpl.Resources("AWS::CertificateManager::Certificate")) > 0 {
			return // the certificate is ACM's, exported into a secret of the stack
		}
		if !ok {
			t.Fatalf("no parameter %s", stacks.CertificateParameter)
		}
		pattern, err := regexp.Compile(p["AllowedPattern"].(string))
		if err != nil {
			t.Fatalf("AllowedPattern: %v", err)
		}
		for _, arn := range complete {
			if !pattern.MatchString(arn) {
				t.Errorf("AllowedPattern refuses the complete ARN %s", arn)
			}
		}
		for _, arn := range partial {
			if pattern.MatchString(arn) {
				t.Errorf("AllowedPattern accepts %s, which is not a complete secret ARN", arn)
			}
		}
		for _, want := range []string{"complete ARN", "6 characters"} {
			if msg, _ := p["ConstraintDescription"].(string); !strings.Contains(msg, want) {
				t.Errorf("ConstraintDescription %q does not say %q", msg, want)
			}
		}
	})
}

// The execution role's AwsSolutions-IAM5 suppression covers the one
// statement that cannot name a resource, ecr:GetAuthorizationToken; it must
// not hide another. In every example, the execution roles' statements on
// "*" are that action alone, and their Secrets Manager statements name only
// the certificate secret.
func TestExamplesExecutionRolesStayWithinTheirSuppression(t *testing.T) {
	forEachGuarantee(t, func(t *testing.T, tpl *cdktest.Template) {
		roles := map[string]bool{}
		for _, td := range tpl.Resources(typeTaskDef) {
			if role, ok := strings.CutPrefix(dtResolve(td["ExecutionRoleArn"]), "GETATT:"); ok {
				roles[strings.TrimSuffix(role, ".Arn")] = true
			}
		}
		if len(roles) == 0 {
			t.Fatal("no task definition has an execution role")
		}
		for id, policy := range tpl.Resources("AWS::IAM::Policy") {
			attached := false
			for _, r := range dtStrings(policy["Roles"]) {
				attached = attached || roles[strings.TrimPrefix(r, "REF:")]
			}
			if !attached {
				continue
			}
			for _, s := range dtStatements(policy["PolicyDocument"]) {
				actions := dtStrings(s["Action"])
				resources := dtStrings(s["Resource"])
				if slices.Contains(resources, "*") && !slices.Equal(actions, []string{"ecr:GetAuthorizationToken"}) {
					t.Errorf("execution role policy %s allows %v on \"*\"; only ecr:GetAuthorizationToken may be", id, actions)
				}
				if slices.ContainsFunc(actions, func(a string) bool { return strings.HasPrefix(a, "secretsmanager:") }) &&
					!slices.Equal(resources, []string{"REF:" + stacks.CertificateParameter}) && !allStackSecrets(tpl, resources) {
					t.Errorf("execution role policy %s allows %v on %v; only the certificate secret (%s) may be read", id, actions, resources, stacks.CertificateParameter)
				}
			}
		}
	})
}

// allStackSecrets tells whether every resource is a secret the stack
// creates: an exported ACM certificate's secret and its passphrase.
func allStackSecrets(tpl *cdktest.Template, resources []string) bool {
	secrets := tpl.Resources("AWS::SecretsManager::Secret")
	for _, r := range resources {
		id, ok := strings.CutPrefix(r, "REF:")
		if _, isSecret := secrets[id]; !ok || !isSecret {
			return false
		}
	}
	return len(resources) > 0
}

// Synthesizing the example app records no info or warning annotation: a
// user running `cdk synth` sees no notice they must learn to ignore (the
// deployment alarm, passed by a token, used to print one per service).
func TestExampleAppSynthesizesWithoutNotices(t *testing.T) {
	for _, ex := range examples(t) {
		for _, notice := range ex.notices {
			t.Errorf("%s: %s", ex.name, notice)
		}
	}
}

// Every load balancer alarms on source port allocation errors, any one of
// them, with missing data (no errors) not breaching, and notifies where its
// other alarm does.
func TestExamplesAlarmOnPortAllocationErrors(t *testing.T) {
	forEachGuarantee(t, func(t *testing.T, tpl *cdktest.Template) {
		alarms := tpl.Resources("AWS::CloudWatch::Alarm")
		for lb := range tpl.Resources(typeLoadBalancer) {
			var found, resets map[string]any
			for _, a := range alarms {
				raw, _ := json.Marshal(a)
				if !strings.Contains(string(raw), `["`+lb+`","LoadBalancerFullName"]`) {
					continue
				}
				switch {
				case a["MetricName"] == "PortAllocationErrorCount":
					found = a
				case strings.Contains(string(raw), "TCP_Target_Reset_Count"):
					resets = a
				}
			}
			if found == nil {
				t.Errorf("load balancer %s has no PortAllocationErrorCount alarm", lb)
				continue
			}
			if found["Namespace"] != "AWS/NetworkELB" || found["Statistic"] != "Sum" || found["Threshold"] != 0.0 ||
				found["ComparisonOperator"] != "GreaterThanThreshold" || found["TreatMissingData"] != "notBreaching" {
				t.Errorf("load balancer %s: port allocation alarm %v, want Sum > 0 with missing data not breaching", lb, found)
			}
			if resets != nil && fmt.Sprint(found["AlarmActions"]) != fmt.Sprint(resets["AlarmActions"]) {
				t.Errorf("load balancer %s: port allocation alarm notifies %v, its reset alarm %v", lb, found["AlarmActions"], resets["AlarmActions"])
			}
		}
	})
}

// PROXY protocol is exercised: at least one example target group sends the
// PROXY v2 header, and every container behind such a target group expects
// it (PROXY_PROTOCOL=v2), while no other container does; a mismatch makes
// the server misread every connection.
func TestExamplesProxyProtocolMatchesTheContainer(t *testing.T) {
	on := 0
	forEachGuarantee(t, func(t *testing.T, tpl *cdktest.Template) {
		env := dtEnvironment(tpl)
		groups := tpl.Resources(typeTargetGroup)
		for sid, svc := range tpl.Resources(typeService) {
			td := strings.TrimPrefix(dtResolve(svc["TaskDefinition"]), "REF:")
			for _, lb := range svc["LoadBalancers"].([]any) {
				tg := strings.TrimPrefix(dtResolve(lb.(map[string]any)["TargetGroupArn"]), "REF:")
				proxy := false
				for _, attr := range groups[tg]["TargetGroupAttributes"].([]any) {
					m := attr.(map[string]any)
					proxy = proxy || (m["Key"] == "proxy_protocol_v2.enabled" && m["Value"] == "true")
				}
				if proxy {
					on++
				}
				if expects := env[td]["PROXY_PROTOCOL"] == "v2"; expects != proxy {
					t.Errorf("service %s: target group %s proxy_protocol_v2.enabled=%t, container PROXY_PROTOCOL=%q", sid, tg, proxy, env[td]["PROXY_PROTOCOL"])
				}
			}
		}
	})
	if on == 0 {
		t.Error("no example target group turns on PROXY protocol v2: the PROXY path is not exercised")
	}
}
