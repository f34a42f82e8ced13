//go:build integ

package integ

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// checkAlarms sets every alarm with an SNS action to ALARM and waits for
// each notification on a queue subscribed to the topics. It runs last: the
// unhealthy-targets alarm is a deployment alarm, and no deployment may be
// in progress while it is set.
func (gr *group) checkAlarms(t *testing.T, ctx context.Context) {
	var names []string
	for _, d := range gr.stacks {
		names = append(names, OfType(d.resources, "AWS::CloudWatch::Alarm")...)
	}
	var alarms []cwtypes.MetricAlarm
	for i := 0; i < len(names); i += 100 {
		out, err := gr.aws.cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: names[i:min(i+100, len(names))], AlarmTypes: []cwtypes.AlarmType{cwtypes.AlarmTypeMetricAlarm}})
		if err != nil {
			t.Fatal(err)
		}
		alarms = append(alarms, out.MetricAlarms...)
	}
	checks, silent := PlanAlarms(alarms)
	if len(silent) > 0 {
		t.Logf("alarms without an SNS action, not checked: %s", strings.Join(silent, ", "))
	}
	if len(checks) == 0 {
		return
	}

	queue, err := gr.aws.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{
		QueueName:  aws.String(gr.run.QueueName(gr.Name)),
		Attributes: map[string]string{string(sqstypes.QueueAttributeNameSqsManagedSseEnabled): "true"},
		Tags:       map[string]string{TagKey: string(gr.run)},
	})
	if err != nil {
		t.Fatal(err)
	}
	url := aws.ToString(queue.QueueUrl)
	gr.record(func(inv *Inventory) { inv.Queues = append(inv.Queues, url) })
	attrs, err := gr.aws.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: queue.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	queueARN := attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
	policy, err := QueuePolicy(queueARN, Topics(checks))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gr.aws.sqs.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: queue.QueueUrl, Attributes: map[string]string{string(sqstypes.QueueAttributeNamePolicy): policy}}); err != nil {
		t.Fatal(err)
	}
	for _, topic := range Topics(checks) {
		sub, err := gr.aws.sns.Subscribe(ctx, &sns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("sqs"), Endpoint: aws.String(queueARN), ReturnSubscriptionArn: true})
		if err != nil {
			t.Fatal(err)
		}
		arn := aws.ToString(sub.SubscriptionArn)
		gr.record(func(inv *Inventory) { inv.Subscriptions = append(inv.Subscriptions, arn) })
	}
	// A new subscription and queue policy can take a moment before they
	// deliver (AWS SDK for .NET, SubscribeQueue).
	time.Sleep(30 * time.Second)

	for _, c := range checks {
		if c.ResetFirst {
			gr.setAlarm(t, ctx, c.Alarm, cwtypes.StateValueOk)
		}
		gr.setAlarm(t, ctx, c.Alarm, cwtypes.StateValueAlarm)
	}
	var received []Notification
	err = wait(ctx, 5*time.Minute, time.Second, func() (bool, error) {
		out, err := gr.aws.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: queue.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 20})
		if err != nil {
			return false, err
		}
		for _, msg := range out.Messages {
			body := aws.ToString(msg.Body)
			if topic, token, ok := Confirmation(body); ok {
				if _, err := gr.aws.sns.ConfirmSubscription(ctx, &sns.ConfirmSubscriptionInput{TopicArn: aws.String(topic), Token: aws.String(token)}); err != nil {
					return false, err
				}
				continue
			}
			n, err := ParseNotification(body)
			if err != nil {
				t.Logf("not an alarm notification: %v", err)
				continue
			}
			received = append(received, n)
		}
		return len(Outstanding(checks, received)) == 0, nil
	})
	if missing := Outstanding(checks, received); len(missing) > 0 {
		t.Errorf("alarm notifications that did not arrive (%v): %s", err, strings.Join(missing, ", "))
	}
}

func (gr *group) setAlarm(t *testing.T, ctx context.Context, name string, state cwtypes.StateValue) {
	_, err := gr.aws.cw.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String(name), StateValue: state,
		StateReason: aws.String("Passthrough deploy tests, run " + string(gr.run) + ": does the notification arrive?")})
	if err != nil {
		t.Errorf("set %s to %s: %v", name, state, err)
	}
}
