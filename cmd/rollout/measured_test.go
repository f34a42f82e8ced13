package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/passthrough-cdk/passthrough/internal/rollout"
)

func writeMeasurements(t *testing.T, runs ...rollout.MeasuredRun) string {
	t.Helper()
	var m rollout.Measurements
	for _, r := range runs {
		if err := m.Record(r); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "measurements.json")
	if err := m.Write(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// Until a maintainer runs the deploy tests, docs/rollout.md says plainly
// that nothing was measured.
func TestNoMeasurementsSayNotYetMeasured(t *testing.T) {
	for name, path := range map[string]string{
		"no file":       filepath.Join(t.TempDir(), "none.json"),
		"no runs in it": writeMeasurements(t),
	} {
		t.Run(name, func(t *testing.T) {
			out, err := document([]string{fixture}, rollout.DefaultConstants(), path)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(out), "## Measured in an AWS account\n\n**Not yet measured.**") {
				t.Errorf("no \"not yet measured\" section:\n%s", tail(out))
			}
		})
	}
}

func TestMeasuredRunsAreShownBesideTheConstants(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 3, d, 9, 30, 0, 0, time.UTC) }
	run := func(id string, d int) rollout.MeasuredRun {
		return rollout.MeasuredRun{Run: id, Date: day(d), Region: "eu-west-1", Services: []rollout.MeasuredService{
			{Stack: "PassthroughPublicServicesFargate", Service: "ApiService", Tasks: 2, TaskStart: 41.2, Registration: 95, HealthChecks: 10,
				FirstHealthy: 136.2, Draining: 120.3, DrainWindow: 61, Rollout: 327.4, ModelRollout: 310, Connections: 318},
			{Stack: "PassthroughServiceToServiceEC2", Service: "OrdersService", Tasks: 2, TaskStart: 55, Registration: 140, HealthChecks: 10,
				Rollout: 351, ModelRollout: 310, Connections: 40, FailedConnections: 1},
		}}
	}
	path := writeMeasurements(t, run("it1", 1), run("it2", 2), run("it3", 3), run("it4", 4))
	out, err := document([]string{fixture}, rollout.DefaultConstants(), path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(out)
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
			t.Errorf("missing %q in:\n%s", want, tail(out))
		}
	}
	if strings.Contains(doc, "Run it1,") || strings.Index(doc, "Run it4") > strings.Index(doc, "Run it3") {
		t.Errorf("want runs it4, it3, it2 in that order and not it1:\n%s", tail(out))
	}
	if strings.Contains(doc, "Not yet measured") {
		t.Error("says not yet measured although runs were recorded")
	}
}

// Without -measurements the output is the model alone, as before.
func TestMeasurementsFlag(t *testing.T) {
	path := writeMeasurements(t)
	var with, without, stderr bytes.Buffer
	if code := run([]string{"-measurements", path, fixture}, &with, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if code := run([]string{fixture}, &without, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(with.String(), "Not yet measured") || strings.Contains(without.String(), "Measured in an AWS account") {
		t.Error("-measurements does not add the section, or it appears without the flag")
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"runs":[{"run":""}]}`), 0o644)
	stderr.Reset()
	if code := run([]string{"-measurements", bad, fixture}, &with, &stderr); code != 1 || !strings.Contains(stderr.String(), "measured run without an ID") {
		t.Errorf("bad file: exit %d, stderr %q; want 1 and the reason", code, stderr.String())
	}
}

// tail is the end of a document, where the measured section is.
func tail(out []byte) string {
	if i := bytes.Index(out, []byte("## Measured")); i >= 0 {
		return string(out[i:])
	}
	return string(out[max(0, len(out)-2000):])
}
