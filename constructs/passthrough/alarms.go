package passthrough

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"
)

// The certificate expiry metric that the example server publishes in
// CloudWatch embedded metric format on its log stream: CloudWatch cannot see
// a certificate that lives in the container, so the container reports it.
const (
	CertificateMetricNamespace = "Passthrough"
	CertificateMetricName      = "CertificateDaysToExpiry"
	CertificateMetricDimension = "ServiceName"
	// EnvServiceName carries the metric's dimension value into the
	// container: unless the service's Environment sets it, the stack's name
	// and the service's path below it ("Payments/Api"), unique in an account
	// and Region.
	EnvServiceName = "SERVICE_NAME"
	// DefaultCertificateExpiryDays is the alarm threshold: three weeks leave
	// time for a manual renewal after the first notice.
	DefaultCertificateExpiryDays = 21
	// CertificateMetricMaxInterval is the longest time, in seconds, between
	// two reports of the metric that the certificate expiry alarm tolerates:
	// it looks at that many hours. The example server reports every hour
	// (CERT_METRIC_INTERVAL_SECONDS), which leaves room for a missed report
	// or a task being replaced; an image that reports less often is seen as
	// not reporting at all.
	CertificateMetricMaxInterval = 6 * certificateAlarmPeriod
	// certificateAlarmPeriod is one hour, the period the alarm evaluates
	// the metric in.
	certificateAlarmPeriod = 3600
)

// AlarmProps configures the alarms of a [Service]. They are on by default.
type AlarmProps struct {
	// Disabled creates no alarms, no rollback rule and no deployment alarm.
	// Default: false.
	Disabled *bool
	// Topic receives the alarms' ALARM and OK notifications and the
	// deployment rollback events. Its policy, and its KMS key's when the key
	// is defined in the app, are extended to admit exactly these alarms and
	// rules: any topic policy replaces SNS's default one, which would
	// otherwise have let CloudWatch publish. An imported topic or key must
	// allow them already (docs/notifications.md).
	// Default: none; the alarms change state in CloudWatch only.
	Topic awssns.ITopic
	// CertificateExpiryDays is the threshold of the certificate expiry
	// alarm, created when the service has a Certificate.
	// Default: 21.
	CertificateExpiryDays *float64
}

// Alarms are the CloudWatch alarms of a service. A nil field means the
// alarm was not created.
type Alarms struct {
	// HealthyTargets fires when the target group has fewer healthy targets
	// than the service's floor (its desired count, or its minimum capacity
	// with auto scaling) for three minutes.
	HealthyTargets awscloudwatch.Alarm
	// UnhealthyTargets fires when any target fails its health checks for two
	// minutes. It is also the service's deployment alarm: a rollout that
	// trips it is rolled back.
	UnhealthyTargets awscloudwatch.Alarm
	// RollbackRule matches the service's SERVICE_DEPLOYMENT_FAILED events (a
	// circuit breaker or deployment alarm rolled a deployment back) and sends
	// them to the topic, if any; add targets of your own with AddTarget.
	RollbackRule awsevents.Rule
	// CertificateExpiry fires when the certificate served by the container
	// expires in fewer than CertificateExpiryDays days.
	CertificateExpiry awscloudwatch.Alarm
}

func (a *AlarmProps) validate(v *validator) {
	if a == nil {
		return
	}
	v.intRange("Alarms.CertificateExpiryDays", a.CertificateExpiryDays, 1, 397)
}

func (a *AlarmProps) enabled() bool {
	return a == nil || a.Disabled == nil || !*a.Disabled
}

// addAlarms creates the service's alarms and rollback rule once the target
// group exists, unless alarms are disabled (a is nil).
func (s *Service) addAlarms(a *alarmSettings) {
	if a == nil {
		return
	}
	name := func(what string) *string {
		return jsii.String(alarmName(a.stack, a.path, what))
	}
	notify := func(alarm awscloudwatch.Alarm) awscloudwatch.Alarm {
		notifyTopic(alarm, a.topic)
		return alarm
	}
	admitAlarms(a.stack, a.stackName, a.topic)
	minute := seconds(60)

	s.Alarms.HealthyTargets = notify(awscloudwatch.NewAlarm(s, jsii.String("HealthyTargetsAlarm"), &awscloudwatch.AlarmProps{
		AlarmName:          name("healthy-targets-below-floor"),
		AlarmDescription:   jsii.String(fmt.Sprintf("Fewer than %s healthy targets behind the listener of %s for 3 minutes: tasks are failing their TCP health checks or not running. Check the service's events and stopped tasks.", formatNumber(*a.floor), a.path)),
		Metric:             s.hostCount(true, &awscloudwatch.MetricOptions{Statistic: jsii.String("Minimum"), Period: minute}),
		Threshold:          a.floor,
		ComparisonOperator: awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD,
		EvaluationPeriods:  jsii.Number(3),
	}))
	unhealthy := name("unhealthy-targets")
	s.Alarms.UnhealthyTargets = notify(awscloudwatch.NewAlarm(s, jsii.String("UnhealthyTargetsAlarm"), &awscloudwatch.AlarmProps{
		AlarmName:          unhealthy,
		AlarmDescription:   jsii.String(fmt.Sprintf("A target of %s failed its health checks for 2 minutes. A deployment that trips this alarm is rolled back.", a.path)),
		Metric:             s.hostCount(false, &awscloudwatch.MetricOptions{Statistic: jsii.String("Maximum"), Period: minute}),
		Threshold:          jsii.Number(0),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		EvaluationPeriods:  jsii.Number(2),
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	}))
	// The alarm's literal name, not its AlarmName() token: the service and
	// the alarm then need no reference to each other (with the token,
	// aws-cdk-lib prints a notice per service that the reference may become
	// circular). The service still waits for the alarm, as it did with the
	// reference, so a deployment never starts before its alarm exists.
	s.Service.EnableDeploymentAlarms(&[]*string{unhealthy}, &awsecs.DeploymentAlarmOptions{
		Behavior: awsecs.AlarmBehavior_ROLLBACK_ON_ALARM,
	})
	s.Service.Node().DefaultChild().Node().AddDependency(s.Alarms.UnhealthyTargets)

	// A failed deployment is an event, not a metric: a rule reports it. Its
	// name is fixed, like the alarms', so that a topic in another stack can
	// admit exactly this rule (see sendRuleToTopic).
	rule := ruleName(a.stack, a.path, "rollback")
	s.Alarms.RollbackRule = awsevents.NewRule(s, jsii.String("RollbackRule"), &awsevents.RuleProps{
		RuleName:    jsii.String(rule),
		Description: jsii.String(fmt.Sprintf("ECS rolled back a deployment of %s", a.path)),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings("aws.ecs"),
			DetailType: jsii.Strings("ECS Deployment State Change"),
			Resources:  &[]*string{s.Service.ServiceArn()},
			Detail:     &map[string]any{"eventName": []string{"SERVICE_DEPLOYMENT_FAILED"}},
		},
	})
	if a.topic != nil {
		sendRuleToTopic(s.Alarms.RollbackRule, a.stack, rule, a.topic)
	}

	if days := a.certificateExpiryDays; days != nil {
		s.Alarms.CertificateExpiry = notify(awscloudwatch.NewAlarm(s, jsii.String("CertificateExpiryAlarm"), &awscloudwatch.AlarmProps{
			AlarmName:        name("certificate-expiry"),
			AlarmDescription: jsii.String(fmt.Sprintf("The certificate served by %s expires in fewer than %s days. Renew it, put it in the certificate secret, and start a new deployment of the service.", a.path, formatNumber(*days))),
			Metric: awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
				Namespace:     jsii.String(CertificateMetricNamespace),
				MetricName:    jsii.String(CertificateMetricName),
				DimensionsMap: &map[string]*string{CertificateMetricDimension: a.metricServiceName},
				Statistic:     jsii.String("Minimum"),
				Period:        seconds(certificateAlarmPeriod),
			}),
			Threshold:          days,
			ComparisonOperator: awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD,
			// Any hour of the last CertificateMetricMaxInterval with a
			// datapoint below the threshold: an hour without one (a task
			// restarting, a report landing just across an hour's boundary)
			// is skipped, not taken for good news. Only when the whole
			// window has none does the alarm go to INSUFFICIENT_DATA, which
			// says the service stopped reporting.
			EvaluationPeriods: jsii.Number(CertificateMetricMaxInterval / certificateAlarmPeriod),
			DatapointsToAlarm: jsii.Number(1),
			TreatMissingData:  awscloudwatch.TreatMissingData_MISSING,
		}))
	}
}

// addResetsAlarm watches TCP_Target_Reset_Count, resets sent by targets. An
// NLB publishes it per load balancer, not per target group, so one alarm
// covers all its services; resets are normal at a level that follows the
// traffic, so the alarm compares with the metric's own band (anomaly
// detection), as AWS recommends for this metric.
func (lb *LoadBalancer) addResetsAlarm(props *AlarmProps) {
	path := *lb.Node().Path()
	lb.TargetResetsAlarm = awscloudwatch.NewAnomalyDetectionAlarm(lb, jsii.String("TargetResetsAlarm"), &awscloudwatch.AnomalyDetectionAlarmProps{
		AlarmName:        jsii.String(alarmName(lb.stack(), path, "target-resets")),
		AlarmDescription: jsii.String(fmt.Sprintf("Targets of %s reset TCP connections far more often than usual for 3 of 5 minutes: containers are crashing, restarting, or closing connections they should finish. Check the services' stopped tasks and logs, and the VPC flow logs for the targets that sent resets.", path)),
		Metric: lb.nlb.Metrics().TcpTargetResetCount(&awscloudwatch.MetricOptions{
			Statistic: jsii.String("Sum"),
			Period:    seconds(60),
		}),
		StdDevs:            jsii.Number(3),
		EvaluationPeriods:  jsii.Number(5),
		DatapointsToAlarm:  jsii.Number(3),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_UPPER_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	lb.notify(lb.TargetResetsAlarm, props)
}

// addPortAllocationAlarm watches PortAllocationErrorCount: with client IP
// preservation off, an NLB connects to each target (address and port) from
// source ports of its own, about 55,000 of them, and drops the connections
// it finds none for (the README's alarms table quotes the ELB guide). Any
// error fires the alarm; the metric is only published while errors occur,
// so missing data is not breaching.
func (lb *LoadBalancer) addPortAllocationAlarm(props *AlarmProps) {
	path := *lb.Node().Path()
	lb.PortAllocationErrorsAlarm = awscloudwatch.NewAlarm(lb, jsii.String("PortAllocationErrorsAlarm"), &awscloudwatch.AlarmProps{
		AlarmName:        jsii.String(alarmName(lb.stack(), path, "port-allocation-errors")),
		AlarmDescription: jsii.String(fmt.Sprintf("%s could not allocate a source port for connections to a target, and dropped them: a target (IP address and port) is receiving more than about 55,000 simultaneous connections, or 55,000 per minute. Add targets: raise the service's desired count or auto scaling minimum.", path)),
		Metric: awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace:     jsii.String("AWS/NetworkELB"),
			MetricName:    jsii.String("PortAllocationErrorCount"),
			DimensionsMap: &map[string]*string{"LoadBalancer": lb.nlb.LoadBalancerFullName()},
			Statistic:     jsii.String("Sum"),
			Period:        seconds(60),
		}),
		Threshold:          jsii.Number(0),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		EvaluationPeriods:  jsii.Number(1),
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	lb.notify(lb.PortAllocationErrorsAlarm, props)
}

// notify sends a load balancer alarm's notifications to the topic of props,
// if any.
func (lb *LoadBalancer) notify(alarm alarmWithActions, props *AlarmProps) {
	if props == nil || props.Topic == nil {
		return
	}
	notifyTopic(alarm, props.Topic)
	stack := lb.stack()
	admitAlarms(stack, *stack.StackName(), props.Topic)
}
