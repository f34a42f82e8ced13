package rollout

import (
	"strings"
	"testing"
	"time"
)

// Until a maintainer runs the deploy tests, docs/rollout.md says plainly
// that nothing was measured.
func TestNoMeasurementsSayNotYetMeasured(t *testing.T) {
	out := string(MeasuredMarkdown(Measurements{}, DefaultConstants()))
	if !strings.HasPrefix(out, "\n## Measured in an AWS account\n\n**Not yet measured.**") {
		t.Errorf("no \"not yet measured\" section:\n%s", out)
	}
}

func TestMeasuredRunsAreShownBesideTheConstants(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 3, d, 9, 30, 0, 0, time.UTC) }
	run := func(id string, d int) MeasuredRun {
		return MeasuredRun{Run: id, Date: day(d), Region: "eu-west-1", Services: []MeasuredService{
			{Stack: "PassthroughPublicServicesFargate", Service: "ApiService", Tasks: 2, TaskStart: 41.2, Registration: 95, HealthChecks: 10,
				FirstHealthy: 136.2, Draining: 120.3, DrainWindow: 61, Rollout: 327.4, ModelRollout: 310, Connections: 318},
			{Stack: "PassthroughServiceToServiceEC2", Service: "OrdersService", Tasks: 2, TaskStart: 55, Registration: 140, HealthChecks: 10,
				Rollout: 351, ModelRollout: 310, Connections: 40, FailedConnections: 1},
		}}
	}
	var m Measurements
	for i, id := range []string{"it1", "it2", "it3", "it4"} {
		if err := m.Record(run(id, i+1)); err != nil {
			t.Fatal(err)
		}
	}
	doc := string(MeasuredMarkdown(m, DefaultConstants()))
	for _, want := range []string{
		"the latest 3 of 4 recorded runs, newest first",
		"### Run it4, 2026-03-04 09:30 UTC, eu-west-1",
		"| image pull and task start | 30 s | 41.2 s to 55 s | service created -> first target registered |",
		"| NLB registration delay | 120 s (2 min) | 85 s (1 min 25 s) to 130 s (2 min 10 s) |",
		"| NLB drain window | 120 s (2 min) | ≥ 61 s (1 min 1 s) |",
		"| PassthroughPublicServicesFargate | ApiService | 2 | 136.2 s | 95 s (1 min 35 s) | 120.3 s | 327.4 s | 310 s (5 min 10 s) | 1.06 | 318 (0) |",
		"| PassthroughServiceToServiceEC2 | OrdersService | 2 | — | 140 s (2 min 20 s) | — | 351 s (5 min 51 s) | 310 s (5 min 10 s) | 1.13 | 40 (1) |",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("missing %q in:\n%s", want, doc)
		}
	}
	if strings.Contains(doc, "Run it1,") || strings.Index(doc, "Run it4") > strings.Index(doc, "Run it3") {
		t.Errorf("want runs it4, it3, it2 in that order and not it1:\n%s", doc)
	}
	if strings.Contains(doc, "Not yet measured") {
		t.Error("says not yet measured although runs were recorded")
	}
}
