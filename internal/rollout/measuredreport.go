package rollout

import (
	"bytes"
	"fmt"
	"slices"
	"time"
)

// shownRuns is how many of the file's runs docs/rollout.md shows.
const shownRuns = 3

// MeasuredMarkdown is the section of docs/rollout.md that shows what the
// deploy tests measured (docs/measurements.json): the latest runs, newest
// first, each with the model's constants beside what the run saw and a row
// per service; or, before any run, that nothing was measured yet.
func MeasuredMarkdown(m Measurements, c Constants) []byte {
	var b bytes.Buffer
	writeMeasured(&b, m, c)
	return b.Bytes()
}

func writeMeasured(b *bytes.Buffer, m Measurements, c Constants) {
	b.WriteString("\n## Measured in an AWS account\n\n")
	if len(m.Runs) == 0 {
		b.WriteString("**Not yet measured.** Every figure above rests on the constants and their\n")
		b.WriteString("sources, not on a deployment of these stacks. The deploy tests in\n")
		b.WriteString("`test/integ` measure them in a real account and, with `-write-measurements`,\n")
		b.WriteString("record them in `docs/measurements.json` ([docs/integ.md](integ.md)).\n")
		b.WriteString("`go test ./... -update` then shows the latest runs here, beside the\n")
		b.WriteString("constants, with their date and Region.\n")
		return
	}
	fmt.Fprintf(b, "From `docs/measurements.json`, written by the deploy tests in `test/integ`\n")
	fmt.Fprintf(b, "([docs/integ.md](integ.md)); the latest %d of %d recorded runs, newest first.\n", min(shownRuns, len(m.Runs)), len(m.Runs))
	b.WriteString("A dash is a figure the run could not take. Ranges are the fewest and the most\n")
	b.WriteString("over the run's services.\n")
	for _, r := range m.Runs[:min(shownRuns, len(m.Runs))] {
		fmt.Fprintf(b, "\n### Run %s, %s, %s\n\n", r.Run, r.Date.UTC().Format("2006-01-02 15:04 UTC"), r.Region)
		b.WriteString("| constant | model | measured | as |\n| --- | ---: | ---: | --- |\n")
		starts := collect(r.Services, func(s MeasuredService) float64 { return s.TaskStart })
		delays := collect(r.Services, func(s MeasuredService) float64 {
			if s.Registration == 0 {
				return 0
			}
			return max(s.Registration-s.HealthChecks, 0)
		})
		windows := collect(r.Services, func(s MeasuredService) float64 { return s.DrainWindow })
		fmt.Fprintf(b, "| image pull and task start | %s | %s | service created -> first target registered |\n", secs(c.TaskStart), span(starts))
		fmt.Fprintf(b, "| NLB registration delay | %s | %s | target registered -> healthy, less healthy threshold × interval |\n", secs(c.RegistrationDelay), span(delays))
		window := "—"
		if len(windows) > 0 {
			window = "≥ " + measuredSecs(slices.Max(windows))
		}
		fmt.Fprintf(b, "| NLB drain window | %s | %s | last new connection a task answered after its deregistration started (a lower bound) |\n", secs(c.DrainWindow), window)

		b.WriteString("\n| stack | service | N | first healthy target | registration -> healthy | draining | rollout | model | measured / model | connections (failed) |\n")
		b.WriteString("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		for _, s := range r.Services {
			ratio := "—"
			if s.Rollout > 0 && s.ModelRollout > 0 {
				ratio = fmt.Sprintf("%.2f", s.Rollout/s.ModelRollout)
			}
			fmt.Fprintf(b, "| %s | %s | %d | %s | %s | %s | %s | %s | %s | %d (%d) |\n", s.Stack, s.Service, s.Tasks,
				measuredSecs(s.FirstHealthy), measuredSecs(s.Registration), measuredSecs(s.Draining),
				measuredSecs(s.Rollout), measuredSecs(s.ModelRollout), ratio, s.Connections, s.FailedConnections)
		}
	}
}

// collect returns the non-zero values f takes over services.
func collect(services []MeasuredService, f func(MeasuredService) float64) []float64 {
	var out []float64
	for _, s := range services {
		if v := f(s); v > 0 {
			out = append(out, v)
		}
	}
	return out
}

func span(v []float64) string {
	if len(v) == 0 {
		return "—"
	}
	lo, hi := slices.Min(v), slices.Max(v)
	if lo == hi {
		return measuredSecs(lo)
	}
	return measuredSecs(lo) + " to " + measuredSecs(hi)
}

// measuredSecs formats a measured duration in seconds, a dash for none.
func measuredSecs(v float64) string {
	if v <= 0 {
		return "—"
	}
	d := time.Duration(v * float64(time.Second)).Round(100 * time.Millisecond)
	if d%time.Second == 0 {
		return secs(d)
	}
	return fmt.Sprintf("%.1f s", v)
}
