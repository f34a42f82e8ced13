package integ

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// LoopResult is what a client loop saw: every attempt's outcome, in order.
type LoopResult struct {
	Attempts []Observation
	// Failures are the attempts that failed Check, with why.
	Failures []string
}

// Failed is the number of failed attempts.
func (r LoopResult) Failed() int { return len(r.Failures) }

// Summary says how many attempts failed and the first few reasons.
func (r LoopResult) Summary() string {
	s := fmt.Sprintf("%d of %d connections failed", len(r.Failures), len(r.Attempts))
	if len(r.Failures) > 0 {
		s += ": " + strings.Join(r.Failures[:min(5, len(r.Failures))], "; ")
	}
	return s
}

// Loop keeps connecting until done is closed or ctx ends, one attempt every
// interval and at most max attempts, and checks each against want. It is
// the client that a rolling deployment must not disturb. The bounds are
// both the caller's: ctx's deadline and max.
func Loop(ctx context.Context, interval time.Duration, max int, done <-chan struct{}, attempt func(context.Context) Observation, want ...string) LoopResult {
	var r LoopResult
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for len(r.Attempts) < max {
		o := attempt(ctx)
		r.Attempts = append(r.Attempts, o)
		if err := o.Check(want...); err != nil {
			r.Failures = append(r.Failures, o.At.UTC().Format("15:04:05.000")+" "+err.Error())
		}
		select {
		case <-ctx.Done():
			return r
		case <-done:
			return r
		case <-tick.C:
		}
	}
	return r
}

// LastAnswers returns, for each task that answered, the time of the last
// attempt it answered.
func (r LoopResult) LastAnswers() map[string]time.Time {
	out := map[string]time.Time{}
	for _, o := range r.Attempts {
		if o.Err == nil && o.Task != "" && o.At.After(out[o.Task]) {
			out[o.Task] = o.At
		}
	}
	return out
}
