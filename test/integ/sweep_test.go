package integ

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"
)

const (
	oldRun   = "it260101-0900-0a1b" // abandoned a day ago: swept
	youngRun = "it260102-1130-77ee" // started half an hour ago: may be going
	ownRun   = "it260102-1150-c0de" // the sweeping run itself
)

var sweepNow = time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)

func recordedSweeper(t *testing.T, c *calls) Sweeper {
	return Sweeper{
		Stacks: &fakeStacks{calls: c, t: t,
			pages: map[string]string{"": "cloudformation/describe-stacks-page1.json", "eyJwYWdlIjoyfQ==": "cloudformation/describe-stacks-page2.json"},
			resources: map[string]string{
				"PassthroughPrivateLinkProvider-" + oldRun:     "cloudformation/describe-stack-resources-PassthroughPrivateLinkProvider-" + oldRun + ".json",
				"PassthroughPrivateLinkConsumer-" + oldRun:     "cloudformation/describe-stack-resources-PassthroughPrivateLinkConsumer-" + oldRun + ".json",
				"PassthroughServiceToServiceFargate-" + oldRun: "cloudformation/describe-stack-resources-PassthroughServiceToServiceFargate-" + oldRun + ".json",
			},
		},
		Secrets: &fakeSecrets{calls: c, t: t, list: "secretsmanager/list-secrets.json"},
		Queues:  &fakeQueues{calls: c, t: t},
		Logs:    &fakeLogs{calls: c, t: t},
		MinAge:  6 * time.Hour,
		Skip:    ownRun,
	}
}

// The sweeper finds, from the listings of every service, what the
// abandoned run left, in the order it must go, and leaves alone what is not
// a run's, what a run still going has, and the sweeping run's own.
func TestSweeperFindsWhatAnAbandonedRunLeft(t *testing.T) {
	runs, notes, err := recordedSweeper(t, &calls{}).Find(context.Background(), sweepNow)
	if err != nil {
		t.Fatal(err)
	}
	const region, account = "eu-west-1", "111122223333"
	provider, consumer, s2s := "PassthroughPrivateLinkProvider-"+oldRun, "PassthroughPrivateLinkConsumer-"+oldRun, "PassthroughServiceToServiceFargate-"+oldRun
	want := []Inventory{{
		Run: oldRun,
		Stacks: []StackInventory{
			// Newest first: the consumer was created after the provider
			// it depends on, and is deleted before it.
			{Name: consumer, Clusters: []string{consumer + "-ClusterEB0386A7-Vb4nM6kJ2hGf"}, LogGroups: []string{consumer + "-ClientLogsE5D6B1A4-Rt6yU1iO3pAs"}},
			{Name: s2s, Clusters: []string{s2s + "-BillingClusterC5F0D8B2-Er4tY5uI6oPa", s2s + "-OrdersClusterB4E9C7A1-Zx1cV2bN3mQw"},
				LogGroups: []string{s2s + "-OrdersLogs63C9E25A-As7dF8gH9jKl"}},
			{Name: provider, Clusters: []string{provider + "-ClusterEB0386A7-Xk2mQ9pL4rTz"},
				LogGroups: []string{
					"/aws/lambda/" + provider + "-CustomVpcRestrictDefaultSGC-Jq5wE1rT7yUi",
					provider + "-ApiLogsCD139AD4-hG7fT2sW9qLe",
					provider + "-ClusterVpcFlowLogLogGroupFB48E7BA-mN3bV8cX1zAs",
				}},
		},
		Queues: []string{"https://sqs." + region + ".amazonaws.com/" + account + "/passthrough-integ-" + oldRun + "-publicservicesfargate"},
		Secrets: []string{
			"arn:aws:secretsmanager:" + region + ":" + account + ":secret:passthrough-integ/" + oldRun + "/PrivateLink-AbCdEf",
			"arn:aws:secretsmanager:" + region + ":" + account + ":secret:passthrough-integ/" + oldRun + "/ServiceToServiceFargate-GhIjKl",
		},
		// Outside any stack: a stack deleted before the run died, and a
		// function's group Lambda made. The provider's API log group is
		// in its stack's list, so it is not here twice.
		LogGroups: []string{
			"/aws/lambda/PassthroughPrivateLinkConsumer-" + oldRun + "-Custom-Bv5cX4zA3sDf",
			"PassthroughPublicAndInternalFargate-" + oldRun + "-PublicLogs5AFB62B2-Lk9jH8gF7dSa",
		},
	}}
	if !reflect.DeepEqual(runs, want) {
		t.Errorf("found\n%+v\nwant\n%+v", runs, want)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], `"it-bogus" is not a run ID`) {
		t.Errorf("notes %q, want one about the stack tagged it-bogus", notes)
	}
}

// A run younger than MinAge may still be deploying on another machine;
// with MinAge 0 it is swept too, but never the sweeping run itself.
func TestSweeperSparesYoungRunsAndItsOwn(t *testing.T) {
	s := recordedSweeper(t, &calls{})
	s.MinAge = 0
	runs, _, err := s.Find(context.Background(), sweepNow)
	if err != nil {
		t.Fatal(err)
	}
	var ids []RunID
	for _, r := range runs {
		ids = append(ids, r.Run)
	}
	if !reflect.DeepEqual(ids, []RunID{oldRun, youngRun}) {
		t.Errorf("runs %v, want %s and %s and not the sweeper's own %s", ids, oldRun, youngRun, ownRun)
	}
}

// The sweeper's inventory goes through the same planner and cleaner as a
// run's own: here the service-to-service stack fails to delete again, and
// the report names what is left and why.
func TestSweptRunIsCleanedUpAndWhatRemainsIsNamed(t *testing.T) {
	c := &calls{}
	runs, _, err := recordedSweeper(t, c).Find(context.Background(), sweepNow)
	if err != nil {
		t.Fatal(err)
	}
	provider, consumer, s2s := "PassthroughPrivateLinkProvider-"+oldRun, "PassthroughPrivateLinkConsumer-"+oldRun, "PassthroughServiceToServiceFargate-"+oldRun
	c.log = nil
	stacks := &fakeStacks{calls: c, t: t,
		scripts: map[string][]stackAnswer{
			provider: {{status: "CREATE_COMPLETE"}}, stackID(provider): {{status: "DELETE_IN_PROGRESS"}, {status: "DELETE_COMPLETE"}},
			consumer: {{status: "ROLLBACK_COMPLETE"}}, stackID(consumer): {{err: errNoStack}},
			s2s: {{status: "DELETE_FAILED"}}, stackID(s2s): {{status: "DELETE_IN_PROGRESS"}, {status: "DELETE_FAILED"}},
		},
		resources: map[string]string{s2s: "cloudformation/describe-stack-resources-" + s2s + ".json"},
	}
	var slept time.Duration
	cleaner := Cleaner{
		Run: oldRun, Stacks: stacks,
		Secrets:       &fakeSecrets{calls: c, t: t, deleteErr: map[string]error{runs[0].Secrets[1]: errDenied}},
		Queues:        &fakeQueues{calls: c, t: t},
		Logs:          &fakeLogs{calls: c, t: t, deleteErr: map[string]error{runs[0].Stacks[2].LogGroups[0]: errNotFound}},
		Tasks:         &fakeTasks{calls: c, running: map[string][]string{s2s + "-OrdersClusterB4E9C7A1-Zx1cV2bN3mQw": {"arn:aws:ecs:eu-west-1:111122223333:task/x/5e5f"}}},
		Subscriptions: &fakeSubscriptions{calls: c},
		Poll:          time.Second, StackTimeout: time.Minute,
		Sleep: func(_ context.Context, d time.Duration) error { slept += d; return nil },
	}
	report := cleaner.Execute(context.Background(), PlanCleanup(runs[0]))

	for _, want := range []string{
		"StopTask arn:aws:ecs:eu-west-1:111122223333:task/x/5e5f",
		"DeleteStack " + stackID(consumer),
		"DeleteStack " + stackID(s2s),
		"DeleteStack " + stackID(provider),
		"DeleteLogGroup " + provider + "-ApiLogsCD139AD4-hG7fT2sW9qLe",
		"DeleteSecret " + runs[0].Secrets[0] + " force=true",
	} {
		if !contains(c.log, want) {
			t.Errorf("no call %q in\n%s", want, strings.Join(c.log, "\n"))
		}
	}
	// Probe tasks stop before any stack goes (a cluster with tasks cannot
	// be deleted), the consumer goes before its provider, log groups after
	// their stacks and secrets last.
	order := []string{
		"StopTask arn:aws:ecs:eu-west-1:111122223333:task/x/5e5f",
		"DeleteStack " + stackID(consumer),
		"DeleteStack " + stackID(provider),
		"DeleteLogGroup " + provider + "-ApiLogsCD139AD4-hG7fT2sW9qLe",
		"DeleteSecret " + runs[0].Secrets[0] + " force=true",
	}
	for i := 1; i < len(order); i++ {
		if index(c.log, order[i-1]) > index(c.log, order[i]) {
			t.Errorf("%q came after %q", order[i-1], order[i])
		}
	}
	if contains(c.log, "DeleteLogGroup "+s2s+"-OrdersLogs63C9E25A-As7dF8gH9jKl") {
		t.Error("deleted a log group of a stack that failed to delete")
	}
	wantFailed := []string{
		"delete stack " + s2s + ": DELETE_FAILED (The following resource(s) failed to delete: [OrdersClusterB4E9C7A1].); left: " +
			"AWS::ECS::Cluster OrdersClusterB4E9C7A1 (" + s2s + "-OrdersClusterB4E9C7A1-Zx1cV2bN3mQw): The Cluster cannot be deleted while Tasks are active. (Service: Ecs, Status Code: 400); " +
			"AWS::Route53::HostedZone ZoneA5DE4A9F (Z0123456789ABCDEFGHIJ): The specified hosted zone contains non-required resource record sets and so cannot be deleted.",
		"delete log group " + s2s + "-OrdersLogs63C9E25A-As7dF8gH9jKl: not attempted, its stack " + s2s + " is not deleted",
		"delete secret " + runs[0].Secrets[1] + ": api error AccessDeniedException: User is not authorized to perform this action",
	}
	if !reflect.DeepEqual(report.Failed, wantFailed) {
		t.Errorf("failed\n%s\nwant\n%s", strings.Join(report.Failed, "\n"), strings.Join(wantFailed, "\n"))
	}
	// A log group already gone counts as deleted; so does a subscription.
	if !contains(report.Deleted, "delete log group "+runs[0].Stacks[2].LogGroups[0]) {
		t.Errorf("a log group that was not found is not counted as deleted: %v", report.Deleted)
	}
	if err := report.Err(); err == nil || !strings.HasPrefix(err.Error(), "could not delete 3 resources; delete them by hand or run the sweeper") {
		t.Errorf("report error %v", err)
	}
	if slept != 2*time.Second {
		t.Errorf("waited %s for the deletions, want one poll for each stack that was still deleting", slept)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func index(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}
