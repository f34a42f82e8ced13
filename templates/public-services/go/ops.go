package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"
)

// opsTopic is the SNS topic the services' alarms, rollback events and
// certificate rollouts' completions go to.
// Subscribe to it after deploying (aws sns subscribe). It is encrypted with
// its own KMS key, because CloudWatch alarms and EventBridge cannot publish
// to a topic encrypted with the AWS managed SNS key: its key policy cannot
// be changed to let them use it. Passthrough extends the topic's policy and
// the key's with the publishers it wires to them (CloudWatch alarms,
// EventBridge rules), so the key needs no statement of its own here.
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
