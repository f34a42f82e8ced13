package integ

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

const (
	alarmPrefix = "PassthroughPublicServicesFargate-it260102-1150-c0de-"
	opsTopic    = "arn:aws:sns:eu-west-1:111122223333:PassthroughPublicServicesFargate-it260102-1150-c0de-OpsTopic1B68409C-Rf4tG5yH6uJ7"
)

// Every alarm with a topic among its ALARM actions is checked; one already
// in ALARM is first set to OK, or setting ALARM would notify no one.
func TestAlarmsToCheck(t *testing.T) {
	checks, silent := PlanAlarms(fixture[cloudwatch.DescribeAlarmsOutput](t, "cloudwatch/describe-alarms.json").MetricAlarms)
	want := []AlarmCheck{
		{Alarm: alarmPrefix + "Api-certificate-expiry", Topics: []string{opsTopic}},
		{Alarm: alarmPrefix + "Api-healthy-targets-below-floor", Topics: []string{opsTopic}},
		{Alarm: alarmPrefix + "Api-unhealthy-targets", Topics: []string{opsTopic}, ResetFirst: true},
	}
	if !reflect.DeepEqual(checks, want) {
		t.Errorf("checks\n%+v\nwant\n%+v", checks, want)
	}
	if want := []string{alarmPrefix + "Admin-unhealthy-targets", alarmPrefix + "Api-scaling-high"}; !reflect.DeepEqual(silent, want) {
		t.Errorf("silent %v, want the disabled one and the one without a topic: %v", silent, want)
	}
	if got := Topics(checks); !reflect.DeepEqual(got, []string{opsTopic}) {
		t.Errorf("topics %v", got)
	}
}

func TestQueuePolicyAdmitsOnlyTheTopics(t *testing.T) {
	policy, err := QueuePolicy("arn:aws:sqs:eu-west-1:111122223333:q", []string{opsTopic})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Statement []struct {
			Effect    string
			Principal map[string]string
			Action    string
			Resource  string
			Condition map[string]map[string][]string
		}
	}
	if err := json.Unmarshal([]byte(policy), &doc); err != nil {
		t.Fatal(err)
	}
	s := doc.Statement[0]
	if len(doc.Statement) != 1 || s.Effect != "Allow" || s.Principal["Service"] != "sns.amazonaws.com" || s.Action != "sqs:SendMessage" ||
		s.Resource != "arn:aws:sqs:eu-west-1:111122223333:q" || !reflect.DeepEqual(s.Condition["ArnEquals"]["aws:SourceArn"], []string{opsTopic}) {
		t.Errorf("policy %s", policy)
	}
	if _, err := QueuePolicy("q", nil); err == nil {
		t.Error("a policy for no topic")
	}
}

// The notifications as SNS delivers them to the queue: an ALARM for the
// floor alarm and, for the alarm that was in ALARM, the OK of its reset and
// then its ALARM. The certificate expiry alarm's never came.
func TestNotificationsReceived(t *testing.T) {
	var got []Notification
	for _, m := range fixture[sqs.ReceiveMessageOutput](t, "sqs/receive-message.json").Messages {
		n, err := ParseNotification(aws.ToString(m.Body))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, n)
	}
	if got[1] != (Notification{Topic: opsTopic, Alarm: alarmPrefix + "Api-unhealthy-targets", NewState: "OK"}) {
		t.Errorf("second notification %+v", got[1])
	}
	checks, _ := PlanAlarms(fixture[cloudwatch.DescribeAlarmsOutput](t, "cloudwatch/describe-alarms.json").MetricAlarms)
	if missing := Outstanding(checks, got); !reflect.DeepEqual(missing, []string{alarmPrefix + "Api-certificate-expiry -> " + opsTopic}) {
		t.Errorf("outstanding %v", missing)
	}
	// An OK notification is not the ALARM one.
	if missing := Outstanding(checks[2:], got[1:2]); len(missing) != 1 {
		t.Errorf("an OK counted as the ALARM notification")
	}
}

func TestSubscriptionConfirmation(t *testing.T) {
	body := `{"Type":"SubscriptionConfirmation","MessageId":"165545c9-2a5c-472c-8df2-7ff2be2b3b1b","Token":"2336412f37fb687f5d51e6e2425f004aed",` +
		`"TopicArn":"` + opsTopic + `","Message":"You have chosen to subscribe to the topic ...","SubscribeURL":"https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription"}`
	if topic, token, ok := Confirmation(body); !ok || topic != opsTopic || token != "2336412f37fb687f5d51e6e2425f004aed" {
		t.Errorf("confirmation: %q %q %v", topic, token, ok)
	}
	notification := aws.ToString(fixture[sqs.ReceiveMessageOutput](t, "sqs/receive-message.json").Messages[0].Body)
	if _, _, ok := Confirmation(notification); ok {
		t.Error("a notification read as a confirmation")
	}
}

func TestNotificationsThatAreNot(t *testing.T) {
	for body, want := range map[string]string{
		`not json`: "not an SNS envelope",
		`{"Type":"SubscriptionConfirmation","TopicArn":"` + opsTopic + `"}`:       `SNS message of type "SubscriptionConfirmation"`,
		`{"Type":"Notification","TopicArn":"` + opsTopic + `","Message":"hello"}`: "is not a CloudWatch alarm's",
	} {
		if _, err := ParseNotification(body); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", body, err, want)
		}
	}
}

// A stack's resources: its clusters (probe tasks stop first) and every log
// group that can outlive it, its own and its functions'.
func TestStackLeftovers(t *testing.T) {
	name := "PassthroughPrivateLinkProvider-" + oldRun
	res := fixture[struct{ StackResources []cftypes.StackResource }](t, "cloudformation/describe-stack-resources-"+name+".json")
	got := StackLeftovers(name, res.StackResources)
	want := StackInventory{Name: name,
		Clusters:  []string{name + "-ClusterEB0386A7-Xk2mQ9pL4rTz"},
		LogGroups: []string{"/aws/lambda/" + name + "-CustomVpcRestrictDefaultSGC-Jq5wE1rT7yUi", name + "-ApiLogsCD139AD4-hG7fT2sW9qLe", name + "-ClusterVpcFlowLogLogGroupFB48E7BA-mN3bV8cX1zAs"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestPlanCleanupOrder(t *testing.T) {
	steps := PlanCleanup(Inventory{
		Run:           ownRun,
		Stacks:        []StackInventory{{Name: "B", Clusters: []string{"cb"}, LogGroups: []string{"gb"}}, {Name: "A", LogGroups: []string{"ga"}}},
		Subscriptions: []string{"sub"}, Queues: []string{"q"}, Secrets: []string{"s"}, LogGroups: []string{"loose"},
	})
	var got []string
	for _, s := range steps {
		got = append(got, s.String())
	}
	want := []string{
		"stop probe tasks in cluster cb", "unsubscribe sub", "delete queue q", "delete stack B", "delete stack A",
		"delete log group gb", "delete log group ga", "delete log group loose", "delete secret s",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("steps\n%q\nwant\n%q", got, want)
	}
}

// A stack that never finishes deleting is reported after the bound, not
// waited for forever.
func TestStackDeletionIsBounded(t *testing.T) {
	c := &calls{}
	stacks := &fakeStacks{calls: c, t: t, scripts: map[string][]stackAnswer{
		"S": {{status: "CREATE_COMPLETE"}}, stackID("S"): {{status: "DELETE_IN_PROGRESS"}},
	}}
	var polls int
	cleaner := Cleaner{Run: ownRun, Stacks: stacks, Poll: time.Minute, StackTimeout: 5 * time.Minute,
		Sleep: func(context.Context, time.Duration) error { polls++; return nil }}
	r := cleaner.Execute(context.Background(), []Step{{Kind: DeleteStack, Target: "S", Stack: "S"}})
	if len(r.Failed) != 1 || r.Failed[0] != "delete stack S: still not deleted after 5m0s" || polls != 6 {
		t.Errorf("failed %q after %d polls", r.Failed, polls)
	}
	// A stack that is already gone is deleted.
	r = cleaner.Execute(context.Background(), []Step{{Kind: DeleteStack, Target: "gone", Stack: "gone"}})
	if len(r.Deleted) != 1 || len(r.Failed) != 0 {
		t.Errorf("gone stack: %+v", r)
	}
	if r.Err() != nil {
		t.Errorf("report error %v for a clean run", r.Err())
	}
}
