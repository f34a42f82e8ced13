package rollout

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"
)

// Measurements is the file in which the deploy tests (test/integ) record
// what they measured in a real account, docs/measurements.json, and from
// which MeasuredMarkdown shows the figures beside the model's constants in
// docs/rollout.md (regenerated with the golden files, `go test ./... -update`). It holds the latest MaxMeasuredRuns runs.
//
// Durations are seconds as JSON numbers, to a tenth of a second: the file
// is read by people and by jq as much as by Go.
type Measurements struct {
	// About says what writes the file and how to refresh it.
	About string        `json:"about"`
	Runs  []MeasuredRun `json:"runs"`
}

// MeasurementsAbout is the About text of a file the suite writes.
const MeasurementsAbout = "Written by the deploy tests in test/integ (docs/integ.md) with -write-measurements; " +
	"docs/rollout.md shows it (go test ./... -update regenerates that). Durations in seconds."

// MaxMeasuredRuns is how many runs the file keeps, newest first.
const MaxMeasuredRuns = 5

// MeasuredRun is one run of the deploy tests.
type MeasuredRun struct {
	// Run is the run's ID, the stack-name suffix without its hyphen.
	Run string `json:"run"`
	// Date is when the run started, in UTC.
	Date time.Time `json:"date"`
	// Region is the AWS Region the stacks were deployed in.
	Region   string            `json:"region"`
	Services []MeasuredService `json:"services"`
}

// MeasuredService is what one ECS service showed in a run. A figure the run
// could not take is absent (zero), never a guess.
type MeasuredService struct {
	// Stack is the example stack without the run's suffix.
	Stack string `json:"stack"`
	// Service is the service's name as the model names it (Service.Name).
	Service string `json:"service"`
	// Tasks is the service's running count when its rollout started.
	Tasks int `json:"tasks"`
	// TaskStart is from the service's creation to the first target the
	// load balancer saw registered: the model's TaskStart, plus ECS's own
	// scheduling.
	TaskStart float64 `json:"task_start_s,omitempty"`
	// Registration is the longest time a new target took from registration
	// to healthy, when the service was created: the model's
	// RegistrationDelay plus HealthChecks.
	Registration float64 `json:"registration_s,omitempty"`
	// HealthChecks is HealthyThreshold × HealthCheckInterval of the
	// deployed target group, so that Registration − HealthChecks estimates
	// the registration delay alone.
	HealthChecks float64 `json:"health_checks_s,omitempty"`
	// FirstHealthy is from the service's creation to its first healthy
	// target.
	FirstHealthy float64 `json:"first_healthy_s,omitempty"`
	// Draining is the longest time a target stayed draining in the
	// rollout: the deregistration delay as the load balancer applied it.
	Draining float64 `json:"draining_s,omitempty"`
	// DrainWindow is the longest time, after a target's deregistration
	// started, at which the client loop still had a new connection answered
	// by its task: a lower bound of the model's DrainWindow, as fine as the
	// loop's interval, and only where the loop could tell tasks apart.
	DrainWindow float64 `json:"drain_window_s,omitempty"`
	// Rollout is the forced new deployment, from its creation to ECS
	// reporting its rollout COMPLETED.
	Rollout float64 `json:"rollout_s,omitempty"`
	// ModelRollout is what Model gives for the deployed template's settings
	// of the service with DefaultConstants.
	ModelRollout float64 `json:"model_rollout_s,omitempty"`
	// Connections and FailedConnections count the client loop's attempts
	// during the rollout.
	Connections       int `json:"connections"`
	FailedConnections int `json:"failed_connections"`
}

// Seconds turns d into the file's unit, rounded to a tenth of a second.
func Seconds(d time.Duration) float64 {
	return float64(d.Round(100*time.Millisecond)) / float64(time.Second)
}

// ReadMeasurements reads the file at path. A missing file is no error: it
// reads as no runs, which docs/rollout.md shows as not yet measured.
func ReadMeasurements(path string) (Measurements, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Measurements{About: MeasurementsAbout}, nil
	}
	if err != nil {
		return Measurements{}, err
	}
	var m Measurements
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Measurements{}, fmt.Errorf("%s: %w", path, err)
	}
	for _, r := range m.Runs {
		if err := r.validate(); err != nil {
			return Measurements{}, fmt.Errorf("%s: %w", path, err)
		}
	}
	return m, nil
}

// Record adds run, replacing a run with the same ID, keeps the runs newest
// first and drops all but the latest MaxMeasuredRuns.
func (m *Measurements) Record(run MeasuredRun) error {
	if err := run.validate(); err != nil {
		return err
	}
	run.Date = run.Date.UTC()
	slices.SortFunc(run.Services, func(a, b MeasuredService) int {
		return strings.Compare(a.Stack+"/"+a.Service, b.Stack+"/"+b.Service)
	})
	m.Runs = slices.DeleteFunc(m.Runs, func(r MeasuredRun) bool { return r.Run == run.Run })
	m.Runs = append(m.Runs, run)
	slices.SortStableFunc(m.Runs, func(a, b MeasuredRun) int { return b.Date.Compare(a.Date) })
	if len(m.Runs) > MaxMeasuredRuns {
		m.Runs = m.Runs[:MaxMeasuredRuns]
	}
	m.About = MeasurementsAbout
	return nil
}

// Write writes m to path as indented JSON ending in a newline.
func (m Measurements) Write(path string) error {
	if m.Runs == nil {
		m.Runs = []MeasuredRun{}
	}
	out, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(out, '\n'), 0o644)
}

func (r MeasuredRun) validate() error {
	switch {
	case r.Run == "":
		return errors.New("measured run without an ID")
	case r.Date.IsZero():
		return fmt.Errorf("measured run %s without a date", r.Run)
	case r.Region == "":
		return fmt.Errorf("measured run %s without a Region", r.Run)
	}
	for _, s := range r.Services {
		if s.Stack == "" || s.Service == "" {
			return fmt.Errorf("measured run %s: a service without stack or name: %+v", r.Run, s)
		}
		if s.FailedConnections > s.Connections || s.Connections < 0 {
			return fmt.Errorf("measured run %s: %s/%s: %d failed of %d connections", r.Run, s.Stack, s.Service, s.FailedConnections, s.Connections)
		}
		for _, v := range []float64{s.TaskStart, s.Registration, s.HealthChecks, s.FirstHealthy, s.Draining, s.DrainWindow, s.Rollout, s.ModelRollout} {
			if v < 0 {
				return fmt.Errorf("measured run %s: %s/%s: negative duration %v", r.Run, s.Stack, s.Service, v)
			}
		}
	}
	return nil
}
