package passthrough

import (
	"fmt"
	"regexp"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	elbv2 "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Controls with a cost or an operational trade-off are not defaults: they
// are turned on together by one aspect, so that a stack that must pass AWS
// Control Tower's proactive controls (and the matching cdk-nag NIST 800-53
// rev 5 rules) says so in one line:
//
//	awscdk.Aspects_Of(stack).Add(passthrough.NewStrictCompliance(nil), nil)
//
// docs/compliance.md lists each control, what the aspect changes for it and
// what it costs.

// MinLogRetentionDays is the shortest retention NewStrictCompliance leaves
// on a log group: "at least one year" (AWS Control Tower CT.CLOUDWATCH.PR.2).
const MinLogRetentionDays = 365

// DefaultStrictUser is the user that NewStrictCompliance runs containers
// as when their ServiceProps.User is not set: nobody, a uid that owns no
// file of the image.
const DefaultStrictUser = "65534:65534"

// Construct IDs of what NewStrictCompliance adds to a stack, once.
const (
	strictKeyID         = "StrictComplianceKey"
	strictAlarmTopicID  = "StrictComplianceAlarmTopic"
	strictTopicOutputID = "StrictComplianceAlarmTopicArn"
)

// StrictComplianceProps configures [NewStrictCompliance].
type StrictComplianceProps struct {
	// AlarmTopic receives the ALARM and OK notifications of every CloudWatch
	// alarm in scope that has no alarm action (CT.CLOUDWATCH.PR.1). Its
	// policy, and its KMS key's when the key is defined in the app, admit
	// the alarms of the account in the stack's Region.
	// Default: a topic in each stack, encrypted with the stack's compliance
	// key, its ARN a stack output; subscribe to it.
	AlarmTopic awssns.ITopic
	// DeletionProtection of every load balancer in scope
	// (CT.ELASTICLOADBALANCING.PR.5, Security Hub ELB.6). Deleting a stack
	// with a protected load balancer fails until protection is turned off
	// with an update; set false for stacks that are destroyed after use.
	// Default: true.
	DeletionProtection *bool
	// KeyRemovalPolicy of the stack's compliance key, which encrypts its log
	// groups and alarm topic. DESTROY schedules the key's deletion with the
	// stack (after KMS's waiting period), after which the log groups, which
	// are retained, can no longer be read: for stacks destroyed after use.
	// Default: awscdk.RemovalPolicy_RETAIN, like the log groups.
	KeyRemovalPolicy awscdk.RemovalPolicy
	// User that the container of each Passthrough service runs as when its
	// ServiceProps.User is not set (CT.ECS.PR.3, Security Hub ECS.20). The
	// image must work as that user: the container port is above 1023 by
	// default and the root file system read only, so most TLS servers do.
	// Default: "65534:65534" (DefaultStrictUser).
	User *string
}

// StrictCompliance is the aspect that [NewStrictCompliance] returns.
type StrictCompliance struct {
	deletionProtection bool
	keyRemoval         awscdk.RemovalPolicy
	user               *string
	alarmTopic         awssns.ITopic
	// admitted records the stacks whose alarms AlarmTopic already admits,
	// by path: the statements would be the same each time.
	admitted map[string]bool
}

// rootUser matches what CT.ECS.PR.3 counts as root: 0 or root, with or
// without a group.
var rootUser = regexp.MustCompile(`^(0|root)(:.*)?$`)

// NewStrictCompliance returns an aspect that turns on, in the scope it is
// applied to, the controls that AWS Control Tower's proactive controls
// check and that cost money or change operations, so that the scope fails
// only the controls the design breaks on purpose (docs/compliance.md):
//
//   - every CloudWatch Logs log group is encrypted with a customer managed
//     KMS key, one per stack, with rotation, retained with the logs
//     (CT.CLOUDWATCH.PR.3), and kept at least MinLogRetentionDays
//     (CT.CLOUDWATCH.PR.2); a longer retention, or none, is kept;
//   - every CloudWatch alarm without an action notifies AlarmTopic
//     (CT.CLOUDWATCH.PR.1);
//   - every load balancer has deletion protection (CT.ELASTICLOADBALANCING.PR.5);
//   - every KMS key defined in scope denies kms:CreateGrant except for AWS
//     services (CT.KMS.PR.3);
//   - each Cluster's EC2 capacity with one instance type gets a second of
//     the same size, launched only when the first has no capacity
//     (CT.AUTOSCALING.PR.6), both Nitro types that encrypt the traffic
//     between instances (CT.AUTOSCALING.PR.11): m6i and m6a, c7g and c7gd,
//     and the other pairs of siblingFamilies; the default t3.medium, which
//     PR.11 refuses, becomes c6a.large with c6i.large; for any other type
//     (t4g, say) synthesis stops with an error that asks for
//     EC2CapacityProps.FallbackInstanceTypes;
//   - each Passthrough service's container without ServiceProps.User runs
//     as User (CT.ECS.PR.3).
//
// Apply it before cdk-nag or any other checking aspect, or with
// awscdk.AspectPriority_MUTATING(), so that the checks see its changes.
// Invalid props panic with a *ValidationError.
func NewStrictCompliance(props *StrictComplianceProps) *StrictCompliance {
	if props == nil {
		props = &StrictComplianceProps{}
	}
	a := &StrictCompliance{
		deletionProtection: props.DeletionProtection == nil || *props.DeletionProtection,
		user:               props.User,
		alarmTopic:         props.AlarmTopic,
		keyRemoval:         props.KeyRemovalPolicy,
		admitted:           map[string]bool{},
	}
	if a.keyRemoval == "" {
		a.keyRemoval = awscdk.RemovalPolicy_RETAIN
	}
	if a.user == nil {
		a.user = jsii.String(DefaultStrictUser)
	}
	if *a.user == "" || rootUser.MatchString(*a.user) {
		panic(&ValidationError{Path: "NewStrictCompliance", Prop: "User", Value: fmt.Sprintf("%q", *a.user),
			Reason: `is not a non-root user; give a uid other than 0, as "uid" or "uid:gid"`})
	}
	return a
}

// Visit implements awscdk.IAspect.
func (a *StrictCompliance) Visit(node constructs.IConstruct) {
	switch n := node.(type) {
	case *Cluster:
		a.addInstanceType(n)
	case *Service:
		if !n.userSet && n.TaskDefinition != nil {
			// The TLS container is the task definition's first.
			n.TaskDefinition.Node().DefaultChild().(awscdk.CfnResource).AddPropertyOverride(jsii.String("ContainerDefinitions.0.User"), a.user)
		}
	case awslogs.CfnLogGroup:
		if d := n.RetentionInDays(); d != nil && *d < MinLogRetentionDays && !isToken(*d) {
			n.SetRetentionInDays(jsii.Number(MinLogRetentionDays))
		}
		if n.KmsKeyId() == nil {
			n.SetKmsKeyId(a.key(awscdk.Stack_Of(n)).KeyArn())
		}
	case awscloudwatch.CfnAlarm:
		a.addAlarmActions(n)
	case elbv2.BaseLoadBalancer:
		if a.deletionProtection {
			n.SetAttribute(jsii.String("deletion_protection.enabled"), jsii.String("true"))
		}
	case awskms.Key:
		restrictGrants(n)
	}
}

// addInstanceType gives the cluster's EC2 capacity a second instance type
// when it has one: the other family of the same size, or for the default
// t3.medium, which Control Tower does not accept in a mixed instances
// policy, strictDefaultInstanceTypes.
func (a *StrictCompliance) addInstanceType(c *Cluster) {
	if c.AutoScalingGroup == nil || len(c.instanceTypes) > 1 {
		return
	}
	if c.defaultInstanceType {
		c.instanceTypes = nil
		for _, t := range strictDefaultInstanceTypes {
			c.instanceTypes = append(c.instanceTypes, awsec2.NewInstanceType(jsii.String(t)))
		}
		c.launchTemplate.Node().DefaultChild().(awscdk.CfnResource).AddPropertyOverride(
			jsii.String("LaunchTemplateData.InstanceType"), jsii.String(strictDefaultInstanceTypes[0]))
		mixInstanceTypes(c.AutoScalingGroup, c.launchTemplate, c.instanceTypes)
		return
	}
	name := *c.instanceTypes[0].ToString()
	sibling, ok := sameShapeSibling(name)
	if !ok {
		awscdk.Annotations_Of(c).AddError(jsii.String((&ValidationError{
			Path: *c.Node().Path(), Prop: "EC2.FallbackInstanceTypes",
			Reason: fmt.Sprintf("is empty, and NewStrictCompliance knows no second instance type for %s: AWS Control Tower asks for two (CT.AUTOSCALING.PR.6), each a Nitro type that encrypts the traffic between instances (CT.AUTOSCALING.PR.11); choose InstanceType and FallbackInstanceTypes among those, such as m6a.large and m6i.large, or c7g.large and c7gd.large on Graviton", name),
		}).Error()))
		return
	}
	c.instanceTypes = append(c.instanceTypes, awsec2.NewInstanceType(jsii.String(sibling)))
	mixInstanceTypes(c.AutoScalingGroup, c.launchTemplate, c.instanceTypes)
}

// addAlarmActions sends the alarm's ALARM and OK notifications to the
// alarm topic when it has no alarm action. The alarm's actions are read
// resolved: aws-cdk-lib renders an Alarm's actions lazily.
func (a *StrictCompliance) addAlarmActions(alarm awscloudwatch.CfnAlarm) {
	stack := awscdk.Stack_Of(alarm)
	if actions, _ := stack.Resolve(alarm.AlarmActions()).([]any); len(actions) > 0 {
		return
	}
	topic := a.topic(stack)
	arns := []*string{topic.TopicArn()}
	alarm.SetAlarmActions(&arns)
	if ok, _ := stack.Resolve(alarm.OkActions()).([]any); len(ok) == 0 {
		alarm.SetOkActions(&arns)
	}
}

// topic is AlarmTopic, admitting the alarms of stack, or the stack's own
// alarm topic, created on first use.
func (a *StrictCompliance) topic(stack awscdk.Stack) awssns.ITopic {
	if a.alarmTopic != nil {
		if path := *stack.Node().Path(); !a.admitted[path] {
			admitAlarmsNamed(stack, a.alarmTopic, "*")
			a.admitted[path] = true
		}
		return a.alarmTopic
	}
	if existing := stack.Node().TryFindChild(jsii.String(strictAlarmTopicID)); existing != nil {
		return existing.(awssns.Topic)
	}
	topic := awssns.NewTopic(stack, jsii.String(strictAlarmTopicID), &awssns.TopicProps{
		DisplayName: jsii.String("Alarms of " + *stack.StackName()),
		MasterKey:   a.key(stack),
		EnforceSSL:  jsii.Bool(true),
	})
	admitAlarmsNamed(stack, topic, "*")
	awscdk.NewCfnOutput(stack, jsii.String(strictTopicOutputID), &awscdk.CfnOutputProps{
		Description: jsii.String("SNS topic of the stack's alarms (passthrough.NewStrictCompliance): subscribe to it"),
		Value:       topic.TopicArn(),
	})
	return topic
}

// strictKey is the stack's compliance key, created on first use: it
// encrypts the stack's log groups and its alarm topic. CloudWatch Logs
// uses it as the service principal of the Region, for log groups of the
// account and Region only (CloudWatch Logs user guide, "Encrypt log data
// in CloudWatch Logs using AWS Key Management Service": the key policy
// statement and its kms:EncryptionContext:aws:logs:arn condition). It is
// retained when the stack is deleted, like the log groups it encrypts:
// their logs could not be read without it (unless KeyRemovalPolicy says
// otherwise).
func (a *StrictCompliance) key(stack awscdk.Stack) awskms.Key {
	if existing := stack.Node().TryFindChild(jsii.String(strictKeyID)); existing != nil {
		return existing.(awskms.Key)
	}
	key := awskms.NewKey(stack, jsii.String(strictKeyID), &awskms.KeyProps{
		Description:       jsii.String("Encrypts the log groups and the alarm topic of " + *stack.StackName() + " (passthrough.NewStrictCompliance)"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     a.keyRemoval,
	})
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("logs."+*stack.Region()+".amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"ArnLike": map[string]any{
			"kms:EncryptionContext:aws:logs:arn": stack.FormatArn(&awscdk.ArnComponents{
				Service:      jsii.String("logs"),
				Resource:     jsii.String("log-group"),
				ResourceName: jsii.String("*"),
				ArnFormat:    awscdk.ArnFormat_COLON_RESOURCE_NAME,
			}),
		}},
	}), jsii.Bool(true))
	restrictGrants(key)
	return key
}
