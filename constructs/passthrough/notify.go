package passthrough

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawsevents"
	"github.com/aws/jsii-runtime-go"
)

// Every publisher the library wires to an SNS topic is admitted by the
// topic's policy, and by the policy of the KMS key that encrypts the topic
// when that key is defined in the app: the topic's first policy replaces
// SNS's default one, after which a publisher it does not name is refused.
// Each publisher is admitted as narrowly as AWS allows for it: CloudWatch
// alarms by the stack's alarm names, each EventBridge rule by its ARN (the
// key by the service principal alone), Auto Scaling by its service-linked
// role's ARN. docs/notifications.md has the statements and the AWS
// documentation each rests on. A topic shared by many services is admitted
// by the same statements many times over; aws-iam's policy documents keep
// one of identical statements. A topic or key imported into the app cannot
// be changed here.

// autoScalingRoleName is the path and name of Auto Scaling's default
// service-linked role, which the Auto Scaling groups created here use.
const autoScalingRoleName = "aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"

// publishStatement allows principal to publish to topic under conditions.
func publishStatement(topic awssns.ITopic, principal awsiam.IPrincipal, conditions map[string]any) awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Principals: &[]awsiam.IPrincipal{principal},
		Actions:    jsii.Strings("sns:Publish"),
		Resources:  &[]*string{topic.TopicArn()},
		Conditions: &conditions,
	})
}

// keyStatement allows principal what a publisher needs of the KMS key that
// encrypts a topic. The key policy is the key's own, so its resource is "*".
func keyStatement(principal awsiam.IPrincipal, conditions map[string]any) awsiam.PolicyStatement {
	props := &awsiam.PolicyStatementProps{
		Principals: &[]awsiam.IPrincipal{principal},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
		Resources:  jsii.Strings("*"),
	}
	if conditions != nil {
		props.Conditions = &conditions
	}
	return awsiam.NewPolicyStatement(props)
}

// admit adds statement to the topic's policy and keyStatement to the policy
// of its KMS key. Both are no-ops for a topic or key imported into the app.
func admit(topic awssns.ITopic, statement, keyStatement awsiam.PolicyStatement) {
	topic.AddToResourcePolicy(statement)
	if key := topic.MasterKey(); key != nil {
		key.AddToResourcePolicy(keyStatement, jsii.Bool(true))
		restrictGrants(key)
	}
}

// restrictGrants denies kms:CreateGrant on key to every principal unless an
// AWS service integrated with KMS creates the grant on the principal's
// behalf (kms:GrantIsForAWSResource), or the caller is an AWS service
// (aws:PrincipalIsAWSService); "BoolIfExists" treats an absent key as
// false (AWS KMS developer guide, "Controlling access to grants"). It is
// AWS Control Tower's CT.KMS.PR.3, in the exact form that control reads.
// No publisher the library admits creates grants: SNS, CloudWatch,
// EventBridge and Auto Scaling use the key through Decrypt and
// GenerateDataKey. A key whose users create grants for principals of their
// own must not encrypt a topic that Passthrough wires publishers to. A
// no-op for an imported key; identical statements are kept once.
func restrictGrants(key awskms.IKey) {
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Effect:     awsiam.Effect_DENY,
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings("kms:CreateGrant"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"BoolIfExists": map[string]any{
			"kms:GrantIsForAWSResource": "false",
			"aws:PrincipalIsAWSService": "false",
		}},
	}), jsii.Bool(true))
}

// alarmWithActions is a CloudWatch alarm that takes actions: an
// awscloudwatch.Alarm or AnomalyDetectionAlarm.
type alarmWithActions interface {
	AddAlarmAction(actions ...awscloudwatch.IAlarmAction)
	AddOkAction(actions ...awscloudwatch.IAlarmAction)
}

// notifyTopic sends alarm's ALARM and OK notifications to topic, if any.
// The caller admits the alarms to the topic with admitAlarms.
func notifyTopic(alarm alarmWithActions, topic awssns.ITopic) {
	if topic == nil {
		return
	}
	action := awscloudwatchactions.NewSnsAction(topic)
	alarm.AddAlarmAction(action)
	alarm.AddOkAction(action)
}

// admitAlarms admits the alarms of stack, whose names begin with stackName,
// to topic, if any.
func admitAlarms(stack awscdk.Stack, stackName string, topic awssns.ITopic) {
	if topic == nil {
		return
	}
	admitAlarmsNamed(stack, topic, stackName+"-*")
}

// admitAlarmsNamed admits to topic the alarms of stack's account and
// Region whose names match pattern.
func admitAlarmsNamed(stack awscdk.Stack, topic awssns.ITopic, pattern string) {
	conditions := map[string]any{
		"StringEquals": map[string]any{"aws:SourceAccount": stack.Account()},
		"ArnLike": map[string]any{"aws:SourceArn": stack.FormatArn(&awscdk.ArnComponents{
			Service:      jsii.String("cloudwatch"),
			Resource:     jsii.String("alarm"),
			ResourceName: jsii.String(pattern),
			ArnFormat:    awscdk.ArnFormat_COLON_RESOURCE_NAME,
		})},
	}
	cloudwatch := awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)
	admit(topic, publishStatement(topic, cloudwatch, conditions), keyStatement(cloudwatch, conditions))
}

// ruleTarget sends a rule's events to an SNS topic. It replaces
// aws-cdk-lib's awseventstargets.SnsTopic, which admits every rule of every
// account (events.amazonaws.com without a condition) to the topic.
type ruleTarget struct {
	topic awssns.ITopic
}

// Bind implements awsevents.IRuleTarget.
func (t *ruleTarget) Bind(_ interfacesawsevents.IRuleRef, _ *string) *awsevents.RuleTargetConfig {
	return &awsevents.RuleTargetConfig{Arn: t.topic.TopicArn()}
}

// sendRuleToTopic makes topic a target of rule, whose name is ruleName in
// stack, and admits exactly that rule to the topic. The ARN is built from
// the name rather than read from the rule, so that a topic in another stack
// does not refer back to the rule's stack, which refers to the topic.
func sendRuleToTopic(rule awsevents.Rule, stack awscdk.Stack, ruleName string, topic awssns.ITopic) {
	rule.AddTarget(&ruleTarget{topic: topic})
	arn := stack.FormatArn(&awscdk.ArnComponents{
		Service:      jsii.String("events"),
		Resource:     jsii.String("rule"),
		ResourceName: jsii.String(ruleName),
		ArnFormat:    awscdk.ArnFormat_SLASH_RESOURCE_NAME,
	})
	events := awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil)
	topic.AddToResourcePolicy(publishStatement(topic, events, map[string]any{
		"StringEquals": map[string]any{"aws:SourceAccount": stack.Account()},
		"ArnEquals":    map[string]any{"aws:SourceArn": arn},
	}))
	if key := topic.MasterKey(); key != nil {
		key.AddToResourcePolicy(keyStatement(events, nil), jsii.Bool(true))
		restrictGrants(key)
	}
}

// admitAutoScaling admits the Auto Scaling groups of stack, which publish as
// the account's Auto Scaling service-linked role, to topic.
func admitAutoScaling(stack awscdk.Stack, topic awssns.ITopic) {
	role := stack.FormatArn(&awscdk.ArnComponents{
		Service:      jsii.String("iam"),
		Region:       jsii.String(""),
		Resource:     jsii.String("role"),
		ResourceName: jsii.String(autoScalingRoleName),
		ArnFormat:    awscdk.ArnFormat_SLASH_RESOURCE_NAME,
	})
	conditions := map[string]any{"ArnEquals": map[string]any{"aws:PrincipalArn": role}}
	anyone := awsiam.NewAnyPrincipal()
	admit(topic, publishStatement(topic, anyone, conditions), keyStatement(anyone, conditions))
}
