package passthrough

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctionstasks"
	"github.com/aws/jsii-runtime-go"
)

// A certificate change reaches a service only through a new deployment:
// "Sensitive data is injected into your container when the container is
// initially started. If the secret is subsequently updated or rotated, the
// container will not receive the updated value automatically" (Amazon ECS
// developer guide, "Pass Secrets Manager secrets through Amazon ECS
// environment variables"). The rollout below starts that deployment when
// the secret's AWSCURRENT label moves, with no code to run:
//
//	Secrets Manager ── "Secret Label Updated", labelUpdated AWSCURRENT ──▶ EventBridge rule
//	  ──▶ Step Functions state machine ── ecs:UpdateService forceNewDeployment ──▶ the service
//	ECS ── "ECS Deployment State Change" COMPLETED / FAILED ──▶ the service's topic
//
// Facts it rests on, from the AWS documentation:
//   - Secrets Manager sends "Secret Label Updated" (source
//     aws.secretsmanager, detail name, labelUpdated, versionId; the
//     secret's complete ARN in resources) "when a staging label moves to a
//     new version of a secret, for all labels except AWSPENDING and
//     AWSPREVIOUS", for every secret, without CloudTrail (Secrets Manager
//     user guide, "Secret event notifications" and "Secret Label Updated
//     event"). Matching AWSCURRENT, not a CloudTrail PutSecretValue call,
//     matters under rotation: a rotation writes the AWSPENDING version
//     first, and a deployment started then would read the old AWSCURRENT.
//   - A Task state calls an API through the AWS SDK integration with the
//     resource arn:aws:states:::aws-sdk:serviceName:apiAction, parameters
//     in PascalCase (Step Functions developer guide, "AWS SDK service
//     integrations"); here arn:aws:states:::aws-sdk:ecs:updateService.
//   - ECS sends "ECS Deployment State Change" events with eventName
//     SERVICE_DEPLOYMENT_COMPLETED once the service is steady after a
//     deployment, and SERVICE_DEPLOYMENT_FAILED when the circuit breaker
//     (or a deployment alarm) fails it, the service's ARN in resources
//     (Amazon ECS developer guide, "Amazon ECS service deployment state
//     change events"). The failure is already the rollback rule's
//     (alarms.go); the rollout adds the completion.

// CertificateRollout is what rolls a service out when the value of its
// certificate secret changes.
type CertificateRollout struct {
	// Rule matches the certificate secret's Secret Label Updated events
	// that move AWSCURRENT, and starts StateMachine.
	Rule awsevents.Rule
	// StateMachine forces a new deployment of the service, and of nothing
	// else: its role may call ecs:UpdateService on this service only.
	StateMachine awsstepfunctions.StateMachine
	// CompletedRule sends the service's SERVICE_DEPLOYMENT_COMPLETED events
	// to the alarm topic; nil without one. Rollbacks reach it through
	// Alarms.RollbackRule.
	CompletedRule awsevents.Rule
	// FailedAlarm fires when an execution of StateMachine fails: the
	// secret changed and no deployment was started. Nil with alarms off.
	FailedAlarm awscloudwatch.Alarm
}

// rolloutSettings are what addRollout needs; nil unless Certificate.RollOut.
type rolloutSettings struct {
	secret awssecretsmanager.ISecret
	alarms bool          // Alarms not disabled: FailedAlarm is created
	topic  awssns.ITopic // nil without Alarms.Topic, or with alarms off
	// stack, its name and the service's path name the rule and the alarm.
	stack           awscdk.Stack
	stackName, path string
}

// addRollout creates the service's certificate rollout once the service
// exists.
func (s *Service) addRollout(r *rolloutSettings) {
	if r == nil {
		return
	}
	svc := s.Service
	ro := &CertificateRollout{}

	// One Task state, its result discarded: an execution's history then
	// holds the event's empty input and nothing the service returns.
	update := awsstepfunctionstasks.NewCallAwsService(s, jsii.String("ForceNewDeployment"), &awsstepfunctionstasks.CallAwsServiceProps{
		Service: jsii.String("ecs"),
		Action:  jsii.String("updateService"),
		Parameters: &map[string]any{
			"Cluster":            svc.Cluster().ClusterArn(),
			"Service":            svc.ServiceArn(),
			"ForceNewDeployment": true,
		},
		IamAction:    jsii.String("ecs:UpdateService"),
		IamResources: &[]*string{svc.ServiceArn()},
		ResultPath:   awsstepfunctions.JsonPath_DISCARD(),
	})
	// A deployment already in progress is no error to ECS: UpdateService
	// starts a new one, which replaces it. Throttling and ECS's transient
	// errors are retried.
	update.AddRetry(&awsstepfunctions.RetryProps{
		Errors:      jsii.Strings("Ecs.ThrottlingException", "Ecs.ServerException", "Ecs.LimitExceededException"),
		Interval:    seconds(10),
		MaxAttempts: jsii.Number(5),
		BackoffRate: jsii.Number(2),
	})
	logs := awslogs.NewLogGroup(s, jsii.String("RolloutLogs"), &awslogs.LogGroupProps{Retention: awslogs.RetentionDays_ONE_MONTH})
	ro.StateMachine = awsstepfunctions.NewStateMachine(s, jsii.String("Rollout"), &awsstepfunctions.StateMachineProps{
		Comment:          jsii.String(fmt.Sprintf("Forces a new deployment of %s when its certificate secret gets a new AWSCURRENT value", r.path)),
		DefinitionBody:   awsstepfunctions.DefinitionBody_FromChainable(update),
		StateMachineType: awsstepfunctions.StateMachineType_STANDARD,
		Timeout:          awscdk.Duration_Minutes(jsii.Number(15)),
		// Every state's events without their data: the data is the
		// service's name, and nothing from the secret is ever in it.
		Logs: &awsstepfunctions.LogOptions{
			Destination:          logs,
			Level:                awsstepfunctions.LogLevel_ALL,
			IncludeExecutionData: jsii.Bool(false),
		},
		TracingEnabled: jsii.Bool(true),
	})
	if policy := ro.StateMachine.Role().Node().TryFindChild(jsii.String("DefaultPolicy")); policy != nil {
		suppressNag(policy, nagSuppression{
			id:        "AwsSolutions-IAM5",
			reason:    "Step Functions delivers logs and X-Ray traces only with these actions on all resources (Step Functions developer guide, IAM policies for CloudWatch Logs and for X-Ray); ecs:UpdateService is on the service's ARN alone",
			appliesTo: []string{"Resource::*"},
		})
	}

	ro.Rule = awsevents.NewRule(s, jsii.String("RolloutRule"), &awsevents.RuleProps{
		Description: jsii.String(fmt.Sprintf("The certificate secret of %s has a new AWSCURRENT value: roll the service out", r.path)),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings("aws.secretsmanager"),
			DetailType: jsii.Strings("Secret Label Updated"),
			Resources:  &[]*string{r.secret.SecretArn()},
			Detail:     &map[string]any{"labelUpdated": []string{"AWSCURRENT"}},
		},
	})
	ro.Rule.AddTarget(awseventstargets.NewSfnStateMachine(ro.StateMachine, &awseventstargets.SfnStateMachineProps{
		Input: awsevents.RuleTargetInput_FromObject(map[string]any{}),
	}))

	if r.alarms {
		ro.FailedAlarm = awscloudwatch.NewAlarm(s, jsii.String("RolloutFailedAlarm"), &awscloudwatch.AlarmProps{
			AlarmName:          jsii.String(alarmName(r.stack, r.path, "certificate-rollout-failed")),
			AlarmDescription:   jsii.String(fmt.Sprintf("The certificate secret of %s changed, and starting its new deployment failed. Read the failed execution of the state machine, then run aws ecs update-service --force-new-deployment for the service.", r.path)),
			Metric:             ro.StateMachine.MetricFailed(&awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: seconds(300)}),
			Threshold:          jsii.Number(0),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
			EvaluationPeriods:  jsii.Number(1),
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		notifyTopic(ro.FailedAlarm, r.topic)
	}

	if r.topic != nil {
		admitAlarms(r.stack, r.stackName, r.topic)
		name := ruleName(r.stack, r.path, "deployed")
		ro.CompletedRule = awsevents.NewRule(s, jsii.String("DeployedRule"), &awsevents.RuleProps{
			RuleName:    jsii.String(name),
			Description: jsii.String(fmt.Sprintf("A deployment of %s completed", r.path)),
			EventPattern: &awsevents.EventPattern{
				Source:     jsii.Strings("aws.ecs"),
				DetailType: jsii.Strings("ECS Deployment State Change"),
				Resources:  &[]*string{svc.ServiceArn()},
				Detail:     &map[string]any{"eventName": []string{"SERVICE_DEPLOYMENT_COMPLETED"}},
			},
		})
		sendRuleToTopic(ro.CompletedRule, r.stack, name, r.topic)
	}
	s.Rollout = ro
}
