package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
)

// opsTopic is the SNS topic the example services' alarms and rollback
// events go to. Subscribe to it after deploying (aws sns subscribe). It is
// encrypted with its own KMS key, because CloudWatch alarms and EventBridge
// cannot publish to a topic encrypted with the AWS managed SNS key: its key
// policy cannot be changed to let them use it. Passthrough extends the
// topic's policy and the key's with the publishers it wires to them.
func opsTopic(stack awscdk.Stack) awssns.Topic {
	key := awskms.NewKey(stack, jsii.String("OpsTopicKey"), &awskms.KeyProps{
		Description:       jsii.String("Encrypts the Passthrough example's alarm topic"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_DESTROY,
	})
	return awssns.NewTopic(stack, jsii.String("OpsTopic"), &awssns.TopicProps{
		DisplayName: jsii.String("Passthrough example alarms"),
		MasterKey:   key,
		EnforceSSL:  jsii.Bool(true),
	})
}

// complyStrictly turns on, for the whole stack, the controls that AWS
// Control Tower checks and that have a cost or an operational trade-off
// (KMS-encrypted logs kept a year, alarm actions, a second instance type,
// a non-root user; docs/compliance.md). Alarms without a topic of their
// own go to topic, or, when it is nil, to a topic the aspect creates.
// Deletion protection stays off, and the key of the logs goes with the
// stack, so that the examples can be destroyed after trying them: keep the
// defaults (protection on, key retained with the logs) in production.
func complyStrictly(stack awscdk.Stack, topic awssns.ITopic) {
	awscdk.Aspects_Of(stack).Add(passthrough.NewStrictCompliance(&passthrough.StrictComplianceProps{
		AlarmTopic:         topic,
		DeletionProtection: jsii.Bool(false),
		KeyRemovalPolicy:   awscdk.RemovalPolicy_DESTROY,
	}), nil)
}
