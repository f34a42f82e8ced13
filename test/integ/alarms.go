package integ

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// AlarmCheck is one alarm whose notification must reach its topics.
type AlarmCheck struct {
	Alarm string
	// Topics are the SNS topics among the alarm's ALARM actions.
	Topics []string
	// ResetFirst is set for an alarm already in ALARM: SetAlarmState only
	// notifies when the state changes (CloudWatch API reference,
	// SetAlarmState), so the check first sets it to OK.
	ResetFirst bool
}

// PlanAlarms reads a DescribeAlarms answer for a stack's alarms: every
// alarm with an SNS topic among its ALARM actions is checked; the names of
// the others come back apart, for the log (the examples without an ops
// topic have alarms without actions, by design).
func PlanAlarms(alarms []cwtypes.MetricAlarm) (checks []AlarmCheck, silent []string) {
	for _, a := range alarms {
		var topics []string
		for _, action := range a.AlarmActions {
			if strings.HasPrefix(action, "arn:") && strings.Contains(action, ":sns:") {
				topics = append(topics, action)
			}
		}
		name := aws.ToString(a.AlarmName)
		if len(topics) == 0 || (a.ActionsEnabled != nil && !*a.ActionsEnabled) {
			silent = append(silent, name)
			continue
		}
		slices.Sort(topics)
		checks = append(checks, AlarmCheck{Alarm: name, Topics: topics, ResetFirst: a.StateValue == cwtypes.StateValueAlarm})
	}
	slices.SortFunc(checks, func(a, b AlarmCheck) int { return strings.Compare(a.Alarm, b.Alarm) })
	slices.Sort(silent)
	return checks, silent
}

// Topics lists the distinct topics of the checks: the queue subscribes to
// each.
func Topics(checks []AlarmCheck) []string {
	var out []string
	for _, c := range checks {
		out = append(out, c.Topics...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// QueuePolicy is the SQS queue policy that lets the topics deliver to the
// queue: the SNS service principal may send, only on behalf of those topics
// (Amazon SNS Developer Guide, "Subscribing an Amazon SQS queue to an
// Amazon SNS topic": the queue's policy must allow sqs:SendMessage from
// the topic, matched by aws:SourceArn).
func QueuePolicy(queueARN string, topics []string) (string, error) {
	if len(topics) == 0 {
		return "", errors.New("a queue policy for no topic")
	}
	policy := map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Sid":       "AlarmTopicsOfTheRun",
			"Effect":    "Allow",
			"Principal": map[string]any{"Service": "sns.amazonaws.com"},
			"Action":    "sqs:SendMessage",
			"Resource":  queueARN,
			"Condition": map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": topics}},
		}},
	}
	b, err := json.Marshal(policy)
	return string(b), err
}

// Notification is what an alarm's SNS message says, as received from the
// queue: the SNS envelope's TopicArn, and from its Message (the alarm's own
// JSON) the alarm's name and new state.
type Notification struct {
	Topic    string
	Alarm    string
	NewState string
}

// ParseNotification reads an SQS message body that SNS delivered without
// raw message delivery: a JSON envelope whose Message is the CloudWatch
// alarm's JSON with AlarmName and NewStateValue.
func ParseNotification(body string) (Notification, error) {
	var envelope struct {
		Type     string
		TopicArn string
		Message  string
	}
	if err := json.Unmarshal([]byte(body), &envelope); err != nil {
		return Notification{}, fmt.Errorf("not an SNS envelope: %w", err)
	}
	if envelope.Type != "Notification" || envelope.TopicArn == "" {
		return Notification{}, fmt.Errorf("SNS message of type %q from %q, want a Notification", envelope.Type, envelope.TopicArn)
	}
	var alarm struct {
		AlarmName     string
		NewStateValue string
	}
	if err := json.Unmarshal([]byte(envelope.Message), &alarm); err != nil || alarm.AlarmName == "" {
		return Notification{}, fmt.Errorf("notification from %s is not a CloudWatch alarm's: %q", envelope.TopicArn, envelope.Message)
	}
	return Notification{Topic: envelope.TopicArn, Alarm: alarm.AlarmName, NewState: alarm.NewStateValue}, nil
}

// Outstanding lists, as "alarm -> topic", the ALARM notifications of the
// checks that have not arrived among received.
func Outstanding(checks []AlarmCheck, received []Notification) []string {
	got := map[string]bool{}
	for _, n := range received {
		if n.NewState == string(cwtypes.StateValueAlarm) {
			got[n.Alarm+" -> "+n.Topic] = true
		}
	}
	var missing []string
	for _, c := range checks {
		for _, t := range c.Topics {
			if key := c.Alarm + " -> " + t; !got[key] {
				missing = append(missing, key)
			}
		}
	}
	return missing
}

// Confirmation reads a SubscriptionConfirmation that SNS delivered to the
// queue: a subscription SNS did not confirm by itself waits for
// ConfirmSubscription with this token.
func Confirmation(body string) (topic, token string, ok bool) {
	var envelope struct {
		Type     string
		TopicArn string
		Token    string
	}
	if json.Unmarshal([]byte(body), &envelope) != nil || envelope.Type != "SubscriptionConfirmation" || envelope.Token == "" {
		return "", "", false
	}
	return envelope.TopicArn, envelope.Token, true
}
