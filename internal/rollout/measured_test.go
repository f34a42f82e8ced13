package rollout

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func measuredRun(id string, day int) MeasuredRun {
	return MeasuredRun{
		Run:    id,
		Date:   time.Date(2026, 1, day, 12, 0, 0, 0, time.UTC),
		Region: "eu-west-1",
		Services: []MeasuredService{
			{Stack: "PassthroughServiceToServiceFargate", Service: "OrdersService", Tasks: 2, Rollout: 301.5, ModelRollout: 310, Connections: 10},
			{Stack: "PassthroughPublicServicesFargate", Service: "ApiService", Tasks: 2, Rollout: 290, ModelRollout: 310, Connections: 300, FailedConnections: 0},
		},
	}
}

// Before a maintainer runs the suite there is no file, and that reads as no
// runs: docs/rollout.md then says "not yet measured".
func TestMissingMeasurementsReadAsNoRuns(t *testing.T) {
	m, err := ReadMeasurements(filepath.Join(t.TempDir(), "measurements.json"))
	if err != nil || len(m.Runs) != 0 {
		t.Errorf("got %+v, %v; want no runs and no error", m, err)
	}
}

func TestMeasurementsRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "measurements.json")
	var m Measurements
	if err := m.Record(measuredRun("it1", 1)); err != nil {
		t.Fatal(err)
	}
	if err := m.Write(path); err != nil {
		t.Fatal(err)
	}
	got, err := ReadMeasurements(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Errorf("read back\n%+v\nwant\n%+v", got, m)
	}
	raw, _ := os.ReadFile(path)
	if !strings.HasSuffix(string(raw), "}\n") || !strings.Contains(string(raw), `"rollout_s": 290`) {
		t.Errorf("file is not indented JSON with seconds and a final newline:\n%s", raw)
	}
	// Services are sorted, so a file does not change with the order the
	// suite's parallel tests finished in.
	if got.Runs[0].Services[0].Stack != "PassthroughPublicServicesFargate" {
		t.Errorf("services not sorted: %+v", got.Runs[0].Services)
	}
}

func TestRecordReplacesARunAndKeepsTheLatest(t *testing.T) {
	var m Measurements
	for day := 1; day <= MaxMeasuredRuns+2; day++ {
		if err := m.Record(measuredRun("it"+string(rune('a'+day)), day)); err != nil {
			t.Fatal(err)
		}
	}
	again := measuredRun("it"+string(rune('a'+MaxMeasuredRuns+2)), MaxMeasuredRuns+2)
	again.Region = "us-east-1"
	if err := m.Record(again); err != nil {
		t.Fatal(err)
	}
	if len(m.Runs) != MaxMeasuredRuns {
		t.Fatalf("%d runs kept, want %d", len(m.Runs), MaxMeasuredRuns)
	}
	if m.Runs[0].Run != again.Run || m.Runs[0].Region != "us-east-1" {
		t.Errorf("newest run %+v, want the replaced %s in us-east-1", m.Runs[0], again.Run)
	}
	for i := 1; i < len(m.Runs); i++ {
		if m.Runs[i].Date.After(m.Runs[i-1].Date) {
			t.Errorf("runs not newest first: %v after %v", m.Runs[i].Date, m.Runs[i-1].Date)
		}
	}
}

func TestMeasurementsRejectNonsense(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(r *MeasuredRun)
		want string
	}{
		{"no ID", func(r *MeasuredRun) { r.Run = "" }, "measured run without an ID"},
		{"no date", func(r *MeasuredRun) { r.Date = time.Time{} }, "measured run it1 without a date"},
		{"no Region", func(r *MeasuredRun) { r.Region = "" }, "measured run it1 without a Region"},
		{"more failures than connections", func(r *MeasuredRun) { r.Services[0].FailedConnections = 11 },
			"measured run it1: PassthroughServiceToServiceFargate/OrdersService: 11 failed of 10 connections"},
		{"negative duration", func(r *MeasuredRun) { r.Services[1].Draining = -1 },
			"measured run it1: PassthroughPublicServicesFargate/ApiService: negative duration -1"},
		{"nameless service", func(r *MeasuredRun) { r.Services[1].Service = "" }, "measured run it1: a service without stack or name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := measuredRun("it1", 1)
			tc.edit(&r)
			var m Measurements
			if err := m.Record(r); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error %v, want it to start with %q", err, tc.want)
			}
		})
	}
	path := filepath.Join(t.TempDir(), "m.json")
	os.WriteFile(path, []byte(`{"about":"","runs":[],"extra":1}`), 0o644)
	if _, err := ReadMeasurements(path); err == nil || !strings.Contains(err.Error(), `unknown field "extra"`) {
		t.Errorf("unknown field: error %v", err)
	}
}

func TestSecondsRoundsToATenth(t *testing.T) {
	if got := Seconds(123456 * time.Millisecond); got != 123.5 {
		t.Errorf("Seconds(123.456 s) = %v, want 123.5", got)
	}
}
