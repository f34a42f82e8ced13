package passthrough

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
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
	// EnvServiceName carries the metric's dimension value into the container.
	EnvServiceName = "SERVICE_NAME"
	// DefaultCertificateExpiryDays is the alarm threshold: three weeks leave
	// time for a manual renewal after the first notice.
	DefaultCertificateExpiryDays = 21
)

// AlarmProps configures the alarms of a [Service]. They are on by default.
type AlarmProps struct {
	// Disabled creates no alarms, no rollback rule and no deployment alarm.
	// Default: false.
	Disabled *bool
	// Topic receives the alarms' ALARM and OK notifications and the
	// deployment rollback events.
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

// addAlarms creates the service's alarms once the target group exists.
// floor is the number of tasks the service should never drop below.
func (s *Service) addAlarms(r *resolved, floor *float64) {
	props := r.Alarms
	if !props.enabled() {
		return
	}
	var topic awssns.ITopic
	if props != nil {
		topic = props.Topic
	}
	path := *s.Node().Path()
	stackName := *awscdk.Stack_Of(s).StackName()
	name := func(what string) *string {
		return jsii.String(alarmName(stackName, path, what))
	}
	notify := func(alarm awscloudwatch.Alarm) awscloudwatch.Alarm {
		if topic != nil {
			action := awscloudwatchactions.NewSnsAction(topic)
			alarm.AddAlarmAction(action)
			alarm.AddOkAction(action)
		}
		return alarm
	}
	minute := seconds(60)
	metrics := s.TargetGroup.Metrics()

	s.Alarms.HealthyTargets = notify(awscloudwatch.NewAlarm(s, jsii.String("HealthyTargetsAlarm"), &awscloudwatch.AlarmProps{
		AlarmName:          name("healthy-targets-below-floor"),
		AlarmDescription:   jsii.String(fmt.Sprintf("Fewer than %s healthy targets behind the listener of %s for 3 minutes: tasks are failing their TCP health checks or not running. Check the service's events and stopped tasks.", formatNumber(*floor), path)),
		Metric:             metrics.HealthyHostCount(&awscloudwatch.MetricOptions{Statistic: jsii.String("Minimum"), Period: minute}),
		Threshold:          floor,
		ComparisonOperator: awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD,
		EvaluationPeriods:  jsii.Number(3),
	}))
	s.Alarms.UnhealthyTargets = notify(awscloudwatch.NewAlarm(s, jsii.String("UnhealthyTargetsAlarm"), &awscloudwatch.AlarmProps{
		AlarmName:          name("unhealthy-targets"),
		AlarmDescription:   jsii.String(fmt.Sprintf("A target of %s failed its health checks for 2 minutes. A deployment that trips this alarm is rolled back.", path)),
		Metric:             metrics.UnHealthyHostCount(&awscloudwatch.MetricOptions{Statistic: jsii.String("Maximum"), Period: minute}),
		Threshold:          jsii.Number(0),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		EvaluationPeriods:  jsii.Number(2),
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	}))
	s.Service.EnableDeploymentAlarms(&[]*string{s.Alarms.UnhealthyTargets.AlarmName()}, &awsecs.DeploymentAlarmOptions{
		Behavior: awsecs.AlarmBehavior_ROLLBACK_ON_ALARM,
	})

	// A failed deployment is an event, not a metric: a rule reports it.
	s.Alarms.RollbackRule = awsevents.NewRule(s, jsii.String("RollbackRule"), &awsevents.RuleProps{
		Description: jsii.String(fmt.Sprintf("ECS rolled back a deployment of %s", path)),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings("aws.ecs"),
			DetailType: jsii.Strings("ECS Deployment State Change"),
			Resources:  &[]*string{s.Service.ServiceArn()},
			Detail:     &map[string]any{"eventName": []string{"SERVICE_DEPLOYMENT_FAILED"}},
		},
	})
	if topic != nil {
		s.Alarms.RollbackRule.AddTarget(awseventstargets.NewSnsTopic(topic, nil))
	}

	if r.Certificate != nil {
		days := float64(DefaultCertificateExpiryDays)
		if props != nil && props.CertificateExpiryDays != nil {
			days = *props.CertificateExpiryDays
		}
		s.Alarms.CertificateExpiry = notify(awscloudwatch.NewAlarm(s, jsii.String("CertificateExpiryAlarm"), &awscloudwatch.AlarmProps{
			AlarmName:        name("certificate-expiry"),
			AlarmDescription: jsii.String(fmt.Sprintf("The certificate served by %s expires in fewer than %s days. Renew it, put it in the certificate secret, and start a new deployment of the service.", path, formatNumber(days))),
			Metric: awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
				Namespace:     jsii.String(CertificateMetricNamespace),
				MetricName:    jsii.String(CertificateMetricName),
				DimensionsMap: &map[string]*string{CertificateMetricDimension: r.metricServiceName},
				Statistic:     jsii.String("Minimum"),
				Period:        seconds(3600),
			}),
			Threshold:          jsii.Number(days),
			ComparisonOperator: awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD,
			EvaluationPeriods:  jsii.Number(1),
		}))
	}
}

// alarmName is "<stack>-<path below the stack>-<what>", with the path's
// slashes as hyphens: unique per stack, readable in a list of alarms.
func alarmName(stack, path, what string) string {
	rel := strings.TrimPrefix(path, stack+"/")
	return stack + "-" + strings.ReplaceAll(rel, "/", "-") + "-" + what
}
