package passthrough

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	elbv2 "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"
)

// Blue/green deployments behind the load balancer (ECS's native BLUE_GREEN
// strategy). ECS starts the new tasks (green) in an alternate target group,
// points a test listener at them, runs the TLS verification hook, then moves
// the production listener to them and keeps the old tasks (blue) for the
// bake time, during which a deployment alarm still rolls back. What the
// resources must look like is in the Amazon ECS developer guide, "Network
// Load Balancer resources for Amazon ECS blue/green, linear and canary
// deployments": two target groups of target type ip (Fargate, or EC2 in
// awsvpc mode: never bridge mode's instance targets), a production and a
// test listener, an IPv4 load balancer. ECS watches the deployment alarms
// through the bake time and rolls back when one fires ("Monitor
// application health, performance metrics, and alarm states during the
// bake time period. A rollback operation is initiated when issues are
// detected", Amazon ECS blue/green service deployments workflow).
const (
	// DefaultBakeTimeMinutes is how long both revisions run after production
	// traffic moved: five times the two minutes the unhealthy-targets
	// alarm (the deployment alarm) needs to fire, so that a revision that
	// fails under production traffic is still rolled back to running tasks.
	DefaultBakeTimeMinutes = 10
	// maxBakeTimeMinutes is ECS's limit for bakeTimeInMinutes, 24 hours, the
	// same as for a linear deployment's step bake time ("Valid values are 0
	// to 1440 minutes (24 hours)", Amazon ECS API reference,
	// LinearConfiguration; the AWS provider's schema gives 0-1440 for
	// bakeTimeInMinutes itself).
	maxBakeTimeMinutes = 1440
	// NLBTrafficShiftDelayMinutes is what ECS adds to each of the
	// TEST_TRAFFIC_SHIFT and PRODUCTION_TRAFFIC_SHIFT stages when the
	// service is behind a Network Load Balancer (the guide's page above:
	// "Amazon ECS adds a 10 minute delay", for the time the load balancer's
	// data plane takes to follow new weights).
	NLBTrafficShiftDelayMinutes = 10
	// verifyFunction is the hook's source, functions/tlscheck.
	verifyFunction = "tlscheck"
	// verifyTimeoutSeconds bounds one run of the hook: three connections
	// of at most five seconds each, plus a cold start in the VPC.
	verifyTimeoutSeconds = 60
)

// fingerprintPattern is a SHA-256 fingerprint in hex, with or without colons.
var fingerprintPattern = regexp.MustCompile(`^([0-9A-Fa-f]{64}|([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2})$`)

// BlueGreenProps configures a service whose DeploymentStrategy is
// awsecs.DeploymentStrategy_BLUE_GREEN.
type BlueGreenProps struct {
	// TestListenerPort of the test listener, through which ECS sends test
	// traffic to the new tasks before production traffic. No client is
	// admitted to it: only the TLS verification hook. Required.
	TestListenerPort *float64
	// BakeTime both revisions keep running after production traffic moved,
	// while the deployment alarm can still roll back; whole minutes, at
	// most 24 hours.
	// Default: 10 minutes (DefaultBakeTimeMinutes).
	BakeTime awscdk.Duration
	// ServerNames the new tasks' certificate must be valid for; the first
	// is sent as the TLS server name. The hook also fails a certificate
	// that expires within the certificate expiry alarm's threshold
	// (Alarms.CertificateExpiryDays). Required.
	ServerNames []string
	// CertificateFingerprints are the SHA-256 fingerprints (hex) of the leaf
	// certificates the new tasks may present. With them the hook proves the
	// tasks serve the configured certificate, not just a valid one; the hook
	// never reads the certificate secret, which also holds the key.
	// Default: none; any certificate valid for ServerNames passes.
	CertificateFingerprints []string
}

// BlueGreen are the resources of a blue/green service besides those every
// service has; nil for a rolling service.
type BlueGreen struct {
	// AlternateTargetGroup receives the new tasks of every other
	// deployment; it has the primary target group's health check,
	// deregistration delay and attributes.
	AlternateTargetGroup elbv2.NetworkTargetGroup
	// TestListener forwards the test traffic, on TestListenerPort.
	TestListener elbv2.NetworkListener
	// VerifyFunction is the TLS verification hook (functions/tlscheck).
	VerifyFunction awslambda.Function
	// VerifySecurityGroup is the hook's security group, the only peer the
	// load balancer admits on the test listener's port.
	VerifySecurityGroup awsec2.SecurityGroup
	// VerifyHookRole is the role ECS assumes to invoke VerifyFunction.
	VerifyHookRole awsiam.Role
}

// blueGreenSettings are BlueGreenProps with the defaults applied; nil for
// a rolling service.
type blueGreenSettings struct {
	testPort     *float64
	bakeTime     awscdk.Duration
	serverNames  []string
	fingerprints []string
	// minDaysLeft is the certificate expiry alarm's threshold.
	minDaysLeft float64
	// subnets of the hook: the tasks' subnets.
	subnets *awsec2.SubnetSelection
}

// validateDeployment checks DeploymentStrategy and BlueGreen. ECS's other
// strategies, LINEAR and CANARY, are refused: the Amazon ECS guide lists a
// Network Load Balancer among their resources, but translated versions of
// the same pages say canary deployments do not support one, and aws-cdk-lib
// 2.275 documents both as needing an Application Load Balancer.
func (p *ServiceProps) validateDeployment(v *validator) {
	switch p.DeploymentStrategy {
	case "", awsecs.DeploymentStrategy_ROLLING:
		if p.BlueGreen != nil {
			v.fail("BlueGreen", "", "is set, but DeploymentStrategy is ROLLING; set DeploymentStrategy to awsecs.DeploymentStrategy_BLUE_GREEN, or leave BlueGreen nil")
		}
		return
	case awsecs.DeploymentStrategy_BLUE_GREEN:
	default:
		v.failf("DeploymentStrategy", string(p.DeploymentStrategy), "is not offered behind a Network Load Balancer: AWS documentation disagrees on whether ECS supports it there; use BLUE_GREEN or ROLLING")
		return
	}
	b := p.BlueGreen
	if b == nil {
		v.fail("BlueGreen", "", "is required with DeploymentStrategy BLUE_GREEN: it names the test listener's port and the names the new tasks' certificate is checked for")
		return
	}
	v.required("BlueGreen.TestListenerPort", b.TestListenerPort != nil)
	v.intRange("BlueGreen.TestListenerPort", b.TestListenerPort, 1, 65535)
	if b.TestListenerPort != nil && *b.TestListenerPort == valueOr(p.ListenerPort, DefaultListenerPort) {
		v.failf("BlueGreen.TestListenerPort", formatNumber(*b.TestListenerPort), "is the service's ListenerPort; the test listener needs a port of its own")
	}
	if d := b.BakeTime; d != nil {
		m := d.ToMinutes(&awscdk.TimeConversionOptions{Integral: jsii.Bool(false)})
		if !isWholeIn(*m, 0, maxBakeTimeMinutes) && !isToken(*m) {
			v.failf("BlueGreen.BakeTime", formatNumber(*m)+"min", "must be a whole number of minutes from 0 to %d (24 hours)", maxBakeTimeMinutes)
		}
	}
	if len(b.ServerNames) == 0 {
		v.fail("BlueGreen.ServerNames", "[]", "is empty; name at least one DNS name the service's certificate must be valid for (the first is sent as the TLS server name)")
	}
	for _, fp := range b.CertificateFingerprints {
		if !fingerprintPattern.MatchString(fp) {
			v.failf("BlueGreen.CertificateFingerprints", fmt.Sprintf("%q", fp), "is not a SHA-256 fingerprint: 64 hexadecimal digits, with or without colons")
		}
	}
	lb := p.LoadBalancer
	if lb == nil || v.err != nil {
		return
	}
	switch {
	case lb.dualStack:
		// The guide's load balancer for blue/green deployments has "IP
		// address type: IPv4"; nothing documents dualstack.
		v.failf("DeploymentStrategy", "BLUE_GREEN", "needs an IPv4 load balancer, and %s is dual stack: Amazon ECS documents blue/green deployments behind a Network Load Balancer of IP address type IPv4 only", *lb.Node().Path())
	case lb.internetFacing && lb.callers.privateDNSName == nil:
		v.failf("DeploymentStrategy", "BLUE_GREEN", "verifies the new tasks from inside the VPC through the test listener, and internet-facing load balancer %s has no private path: its public addresses are reached through the NAT gateway, where its security group cannot tell the hook apart; call AddPrivateDNSName before creating the service", *lb.Node().Path())
	case lb.callers.privateDNSName == nil && !lb.dnsNameKnown:
		v.failf("DeploymentStrategy", "BLUE_GREEN", "verifies the new tasks through the test listener, and needs the DNS name of imported load balancer %s; set LoadBalancerAttributes.DNSName or PrivateDNSName", *lb.Node().Path())
	}
}

// claimTestListenerPort reserves the test listener's port for the service
// that v validates: a listener counted against MaxListeners, a port no
// client is admitted to, and one inbound rule (the hook's security group,
// which counts in both address families).
func (lb *LoadBalancer) claimTestListenerPort(v *validator, port float64) {
	const prop = "BlueGreen.TestListenerPort"
	if owner, taken := lb.listeners.owner[port]; taken {
		v.failf(prop, formatNumber(port), "is already used by %s on load balancer %s; give the test listener a port of its own", owner, *lb.Node().Path())
		return
	}
	if lb.listeners.n+1 > MaxListeners {
		v.failf(prop, formatNumber(port), "would be listener %d on load balancer %s, over the quota of %d listeners per Network Load Balancer", lb.listeners.n+1, *lb.Node().Path(), MaxListeners)
		return
	}
	rules := lb.ingress.count.add(ruleCount{v4: 1, v6: 1})
	if rules.v4 > MaxIngressRules || rules.v6 > MaxIngressRules {
		v.failf(prop, formatNumber(port), "would bring the security group of load balancer %s to %d inbound rules, over the default quota of %d", *lb.Node().Path(), rules.v4, MaxIngressRules)
		return
	}
	lb.listeners.owner[port] = *v.scope.Node().Path() + " (test listener)"
	lb.listeners.n++
	lb.ingress.private[port] = true
	lb.ingress.count = rules
}

// resolveBlueGreen applies BlueGreenProps' defaults; nil for rolling.
func (p *ServiceProps) resolveBlueGreen() *blueGreenSettings {
	if p.DeploymentStrategy != awsecs.DeploymentStrategy_BLUE_GREEN {
		return nil
	}
	b := p.BlueGreen
	days := float64(DefaultCertificateExpiryDays)
	if p.Alarms != nil && p.Alarms.CertificateExpiryDays != nil {
		days = *p.Alarms.CertificateExpiryDays
	}
	bake := b.BakeTime
	if bake == nil {
		bake = awscdk.Duration_Minutes(jsii.Number(DefaultBakeTimeMinutes))
	}
	return &blueGreenSettings{
		testPort:     b.TestListenerPort,
		bakeTime:     bake,
		serverNames:  b.ServerNames,
		fingerprints: b.CertificateFingerprints,
		minDaysLeft:  days,
	}
}

// attachBlueGreen registers svc's tasks in the primary target group with an
// alternate one, creates the test listener and the verification hook.
//
// No stack update can undo a traffic shift: ECS rewrites the production
// listener's forward action to the target group it shifted to, and
// CloudFormation puts the template's action back whenever it updates the
// listener (aws/aws-cdk#36649). It only updates a resource whose properties
// changed, and the production listener's are the load balancer, the port and
// the primary target group, whose own replacing properties (port, protocol,
// target type, VPC) are constants here: health checks, deregistration delay
// and PROXY protocol are updated in place. No prop but ListenerPort (a new
// listener) and the load balancer itself changes that listener; bluegreen
// tests pin it.
func (s *Service) attachBlueGreen(svc awsecs.BaseService, r *settings, tg *elbv2.NetworkTargetGroupProps) {
	b := r.blueGreen
	lb := r.loadBalancer
	alt := elbv2.NewNetworkTargetGroup(s, jsii.String(targetGroupID(lb)+"Alternate"), tg)
	test := elbv2.NewNetworkListener(s, jsii.String("TestListener"), &elbv2.NetworkListenerProps{
		LoadBalancer:        lb.NLB,
		Port:                b.testPort,
		Protocol:            elbv2.Protocol_TCP,
		DefaultTargetGroups: &[]elbv2.INetworkTargetGroup{alt},
	})
	// The role ECS assumes to move the listeners between the target
	// groups. AWS's managed policy for it is the documented one ("Amazon
	// ECS infrastructure IAM role for load balancers"), kept current by
	// ECS as the feature changes; a copy here would go stale.
	infra := awsiam.NewRole(s, jsii.String("BlueGreenRole"), &awsiam.RoleProps{
		AssumedBy:       awsiam.NewServicePrincipal(jsii.String("ecs.amazonaws.com"), nil),
		Description:     jsii.String("Passthrough blue/green: ECS moves the listeners of " + *s.Node().Path() + " between its target groups"),
		ManagedPolicies: &[]awsiam.IManagedPolicy{awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("AmazonECSInfrastructureRolePolicyForLoadBalancers"))},
	})
	suppressNag(infra, nagSuppression{
		id:        "AwsSolutions-IAM4",
		reason:    "AmazonECSInfrastructureRolePolicyForLoadBalancers is the policy Amazon ECS documents for the role it assumes in blue/green deployments, and ECS keeps it current; only ecs.amazonaws.com can assume the role",
		appliesTo: []string{"Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"},
	})
	alternate := awsecs.NewAlternateTarget(jsii.String("BlueGreen"), &awsecs.AlternateTargetProps{
		AlternateTargetGroup: alt,
		ProductionListener:   awsecs.ListenerRuleConfiguration_NetworkListener(s.Listener),
		TestListener:         awsecs.ListenerRuleConfiguration_NetworkListener(test),
		Role:                 infra,
	})
	svc.LoadBalancerTarget(&awsecs.LoadBalancerTargetOptions{
		ContainerName:   r.containerName,
		ContainerPort:   r.containerPort,
		Protocol:        awsecs.Protocol_TCP,
		AlternateTarget: alternate,
	}).AttachToNetworkTargetGroup(s.TargetGroup)
	s.BlueGreen = &BlueGreen{AlternateTargetGroup: alt, TestListener: test}
	s.addVerifyHook(svc, r)
}

// addVerifyHook creates the TLS verification hook and runs it after test
// traffic shifted (POST_TEST_TRAFFIC_SHIFT): a function in the VPC whose
// security group may open connections to the load balancer's on the test
// port only, and which the load balancer admits there and nowhere else.
func (s *Service) addVerifyHook(svc awsecs.BaseService, r *settings) {
	b, lb := r.blueGreen, r.loadBalancer
	port := formatNumber(*b.testPort)
	if isToken(*b.testPort) {
		port = *awscdk.Token_AsString(b.testPort, nil)
	}
	host := lb.callers.privateDNSName
	if host == nil {
		host = lb.DNSName()
	}

	sg := awsec2.NewSecurityGroup(s, jsii.String("VerifySecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:              lb.Vpc,
		Description:      jsii.String("Passthrough blue/green TLS check: to the test listener only"),
		AllowAllOutbound: jsii.Bool(false),
	})
	keepEgressClosed(sg)
	sg.Connections().AllowTo(lb, tcpPort(*b.testPort), jsii.String("Passthrough TLS check to the test listener"))

	logs := awslogs.NewLogGroup(s, jsii.String("VerifyLogs"), &awslogs.LogGroupProps{
		Retention:     defaultLogRetention,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	role := awsiam.NewRole(s, jsii.String("VerifyRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Passthrough blue/green TLS check of " + *s.Node().Path() + ": network interfaces in the VPC, its own logs"),
	})
	// What Lambda needs to attach the function to the VPC ("Lambda uses
	// your function's permissions to create and manage network
	// interfaces", AWS Lambda developer guide, the actions of
	// AWSLambdaVPCAccessExecutionRole without its logs:*): none of them
	// can be narrowed to the interfaces Lambda is about to create.
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
			"ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"),
		Resources: jsii.Strings("*"),
		Conditions: &map[string]any{
			"StringEquals": map[string]any{"aws:RequestedRegion": *awscdk.Aws_REGION()},
		},
	}))
	logs.GrantWrite(role)
	if policy := role.Node().TryFindChild(jsii.String("DefaultPolicy")); policy != nil {
		suppressNag(policy, nagSuppression{
			id:        "AwsSolutions-IAM5",
			reason:    "Lambda attaches the function to the VPC through network interfaces it creates on the function's behalf, which no ARN can name beforehand; the statement holds only those EC2 actions, in the stack's Region",
			appliesTo: []string{"Resource::*"},
		})
	}

	env := map[string]*string{
		"TLSCHECK_ADDRESS":       jsii.String(*host + ":" + port),
		"TLSCHECK_SERVER_NAMES":  jsii.String(strings.Join(b.serverNames, ",")),
		"TLSCHECK_MIN_DAYS_LEFT": jsii.String(formatNumber(b.minDaysLeft)),
	}
	if len(b.fingerprints) > 0 {
		env["TLSCHECK_FINGERPRINTS"] = jsii.String(strings.Join(b.fingerprints, ","))
	}
	fn := newGoFunction(s, "VerifyFunction", "BlueGreen", verifyFunction, &awslambda.FunctionProps{
		Description:    jsii.String("Passthrough: checks the certificate the new tasks of " + *s.Node().Path() + " present on the test listener before production traffic moves"),
		Vpc:            lb.Vpc,
		VpcSubnets:     b.subnets,
		SecurityGroups: &[]awsec2.ISecurityGroup{sg},
		Role:           role,
		LogGroup:       logs,
		Timeout:        seconds(verifyTimeoutSeconds),
		Environment:    &env,
	})
	fn.Node().AddDependency(role)
	if lb.callers.privateDNSRecord != nil {
		fn.Node().AddDependency(lb.callers.privateDNSRecord)
	}
	// The role ECS assumes to invoke the hook may invoke this function, by
	// the unqualified ARN the hook names, and nothing else. aws-cdk-lib's
	// default role would also allow every version and alias (ARN:*).
	invoker := awsiam.NewRole(s, jsii.String("VerifyHookRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("ecs.amazonaws.com"), nil),
		Description: jsii.String("Passthrough blue/green: ECS runs the TLS check of " + *s.Node().Path()),
	})
	invoker.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("lambda:InvokeFunction"),
		Resources: &[]*string{fn.FunctionArn()},
	}))
	svc.AddLifecycleHook(awsecs.NewDeploymentLifecycleLambdaTarget(fn, jsii.String("VerifyTLS"), &awsecs.DeploymentLifecycleLambdaTargetProps{
		LifecycleStages: &[]awsecs.DeploymentLifecycleStage{awsecs.DeploymentLifecycleStage_POST_TEST_TRAFFIC_SHIFT},
		Role:            invoker,
	}))
	s.BlueGreen.VerifyFunction = fn
	s.BlueGreen.VerifySecurityGroup = sg
	s.BlueGreen.VerifyHookRole = invoker
}

// deploymentStrategy is the ECS service's strategy: unset for rolling, so
// that a rolling service's template stays as it was before blue/green
// existed (ECS's default is ROLLING).
func (r *settings) deploymentStrategy() awsecs.DeploymentStrategy {
	if r.blueGreen == nil {
		return ""
	}
	return awsecs.DeploymentStrategy_BLUE_GREEN
}

// bakeTime is the ECS service's bake time; nil for rolling.
func (r *settings) bakeTime() awscdk.Duration {
	if r.blueGreen == nil {
		return nil
	}
	return r.blueGreen.bakeTime
}

// hostCount is the service's healthy (or unhealthy) target count: the
// primary target group's, or with blue/green the sum over both target
// groups, because after a shift production traffic is on the alternate one
// and the primary is empty until the next deployment. FILL makes a target
// group without data count as zero ("Using math expressions with
// CloudWatch metrics", Amazon CloudWatch user guide: FILL, and + between
// two time series point by point). The deployment alarm (unhealthy
// targets) thus watches the new tasks through the bake time, wherever they
// are registered.
func (s *Service) hostCount(healthy bool, opts *awscloudwatch.MetricOptions) awscloudwatch.IMetric {
	metric := func(tg elbv2.NetworkTargetGroup) awscloudwatch.Metric {
		if healthy {
			return tg.Metrics().HealthyHostCount(opts)
		}
		return tg.Metrics().UnHealthyHostCount(opts)
	}
	if s.BlueGreen == nil {
		return metric(s.TargetGroup)
	}
	label := "Unhealthy targets in both target groups"
	if healthy {
		label = "Healthy targets in both target groups"
	}
	return awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression: jsii.String("FILL(primary, 0) + FILL(alternate, 0)"),
		UsingMetrics: &map[string]awscloudwatch.IMetric{
			"primary":   metric(s.TargetGroup),
			"alternate": metric(s.BlueGreen.AlternateTargetGroup),
		},
		Label:  jsii.String(label),
		Period: opts.Period,
	})
}
