package rollout

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The fixture's ApiService, term by term (the arithmetic is in
// TestOneSettingMovesTheRollout), beside the baseline at the same N = 2
// (TestBaselineIsSafeButSlow): 630 / 310 = 2.03×.
func TestFixtureServiceTerms(t *testing.T) {
	e := estimate(t, load(t, fixture), "ApiService")
	want := Estimate{
		Settings:   passthroughDefaults,
		MinHealthy: 2, MaxRunning: 4, BatchSize: 2, Batches: 1,
		Start: 30 * time.Second, Registration: 120 * time.Second, HealthChecks: 10 * time.Second,
		Drain: 120 * time.Second, Stop: 30 * time.Second, Cycle: 310 * time.Second,
		Rollout: 310 * time.Second, Serving: 150 * time.Second, DrainMargin: 0, Safe: true,
	}
	if e != want {
		t.Errorf("got  %+v\nwant %+v", e, want)
	}
	c, err := Compare(passthroughDefaults, Baseline(2), pinned)
	if err != nil {
		t.Fatal(err)
	}
	if c.Baseline.Rollout != 630*time.Second || fmt.Sprintf("%.2f", c.Speedup) != "2.03" || len(c.Shortfalls()) != 0 {
		t.Errorf("baseline %v, speed-up %.4f, shortfalls %q; want 10m30s, 2.03 (630/310), none", c.Baseline.Rollout, c.Speedup, c.Shortfalls())
	}
}

// requirementFailures checks the acceptance criterion for services:
// each rolls out at least RequiredSpeedup times faster than aws-cdk-lib's
// pattern at the same task count, with the constants c, and is Safe, at
// every task count a deployment may find (Service.Range: N, or every count
// auto scaling allows). It returns one message per count that misses it.
func requirementFailures(services []Service, c Constants) []string {
	var failures []string
	for _, s := range services {
		lo, hi := s.Range()
		for n := lo; n <= hi; n++ {
			settings := s.Settings
			settings.DesiredCount = n
			cmp, err := Compare(settings, Baseline(n), c)
			if err != nil {
				failures = append(failures, fmt.Sprintf("%s at N=%d: %v", s.Name, n, err))
				continue
			}
			if missing := cmp.Shortfalls(); len(missing) > 0 {
				failures = append(failures, fmt.Sprintf("%s at N=%d: %s: rolls out in %v, the baseline in %v: %.2f× faster, want at least %g×, "+
					"so at most %v with these constants; drain margin %v\n"+
					"  service  cycle = %v start + %v register + %v checks + %v drain + %v stop\n"+
					"  baseline cycle = %v start + %v register + %v checks + %v drain + %v stop",
					s.Name, n, strings.Join(missing, ", "), cmp.Service.Rollout, cmp.Baseline.Rollout, cmp.Speedup, RequiredSpeedup,
					time.Duration(float64(cmp.Baseline.Rollout)/RequiredSpeedup).Round(time.Second), cmp.Service.DrainMargin,
					cmp.Service.Start, cmp.Service.Registration, cmp.Service.HealthChecks, cmp.Service.Drain, cmp.Service.Stop,
					cmp.Baseline.Start, cmp.Baseline.Registration, cmp.Baseline.HealthChecks, cmp.Baseline.Drain, cmp.Baseline.Stop))
			}
		}
	}
	return failures
}

// The acceptance criterion, over every service of every golden
// template: Passthrough's defaults roll out at least RequiredSpeedup times
// faster than aws-cdk-lib's pattern at the same task count, with the
// default constants included, and are Safe.
func TestPassthroughRollsOutTwiceAsFastAsTheBaseline(t *testing.T) {
	for _, f := range goldenFiles(t) {
		services, err := FromTemplate(load(t, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, msg := range requirementFailures(services, DefaultConstants()) {
			t.Errorf("%s %s", filepath.Base(f), msg)
		}
	}
}

// The requirement test can fail: the check it runs rejects the fixture once
// one setting costs more than the 10 s it has to spare (630 / 2 = 315 s
// allowed, 310 s taken) or once the service is unsafe.
func TestRequirementCanFail(t *testing.T) {
	cases := []struct {
		name   string
		file   string
		change func(t *testing.T, tmpl map[string]any)
		want   []string // substrings of the one failure; none: met
	}{
		{name: "Passthrough's defaults", file: fixture},
		{
			// cycle 310 + 30 = 340 s: 630 / 340 = 1.85×.
			name: "stop timeout 60 s", file: fixture, change: stopTimeout("ApiTaskDefinition", 60),
			want: []string{"ApiService at N=2: under 2×:", "rolls out in 5m40s, the baseline in 10m30s: 1.85× faster"},
		},
		{
			// cycle 310 + 5 = 315 s: 630 / 315 = 2.00×, exactly enough.
			name: "stop timeout 35 s", file: fixture, change: stopTimeout("ApiTaskDefinition", 35),
		},
		{
			// cycle 310 + 6 = 316 s: 630 / 316 = 1.99×.
			name: "stop timeout 36 s", file: fixture, change: stopTimeout("ApiTaskDefinition", 36),
			want: []string{"ApiService at N=2: under 2×:", "1.99× faster"},
		},
		{
			// checks 2×5 → 2×10: cycle 320 s: 630 / 320 = 1.97×.
			name: "health check interval 10 s", file: fixture, change: func(t *testing.T, tmpl map[string]any) {
				props(t, tmpl, "ApiTargetGroup")["HealthCheckIntervalSeconds"] = 10.0
			},
			want: []string{"ApiService at N=2: under 2×:", "1.97× faster"},
		},
		{
			// drain 60 s: cycle 250 s, 630 / 250 = 2.52×, but margin 60 − 120 = −60 s.
			name: "deregistration delay 60 s", file: fixture, change: deregistration("ApiTargetGroup", "60"),
			want: []string{"ApiService at N=2: unsafe:", "2.52× faster", "drain margin -1m0s"},
		},
		{
			// ScaledService with m = 50 %, M = 150 % between 2 and 3 tasks: at N = 2
			// minHealthy 1, maxRunning 3, batch 2, 1 batch: 310 s, 2.03×; at N = 3
			// minHealthy 2, maxRunning 4, batch 2, 2 batches: 620 s against the
			// baseline's 630 s, 1.02×. Only the range shows it.
			name: "an auto scaled count that takes two batches", file: scalingFixture, change: func(t *testing.T, tmpl map[string]any) {
				dc := props(t, tmpl, "ScaledService")["DeploymentConfiguration"].(map[string]any)
				dc["MinimumHealthyPercent"], dc["MaximumPercent"] = 50.0, 150.0
				target := props(t, tmpl, "ScaledServiceTaskCountTarget")
				target["MinCapacity"], target["MaxCapacity"] = 2.0, 3.0
			},
			want: []string{"ScaledService at N=3: under 2×:", "1.02× faster"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tmpl := load(t, tc.file)
			if tc.change != nil {
				tc.change(t, tmpl)
			}
			services, err := FromTemplate(tmpl)
			if err != nil {
				t.Fatal(err)
			}
			failures := requirementFailures(services, pinned)
			if len(tc.want) == 0 {
				if len(failures) != 0 {
					t.Errorf("requirement not met:\n%s", strings.Join(failures, "\n"))
				}
				return
			}
			if len(failures) != 1 {
				t.Fatalf("%d failures, want 1:\n%s", len(failures), strings.Join(failures, "\n"))
			}
			for _, w := range tc.want {
				if !strings.Contains(failures[0], w) {
					t.Errorf("failure %q lacks %q", failures[0], w)
				}
			}
		})
	}
}

// aws-cdk-lib's 300 s deregistration delay is safe, with 180 s to spare,
// and slow: at N = 2, m = 50 %, M = 200 %: minHealthy 1, maxRunning 4,
// batch = min(2, 3) = 2, 1 batch of
// 30 start + 120 register + 5×30 checks + 300 drain + 30 stop = 630 s.
func TestBaselineIsSafeButSlow(t *testing.T) {
	e, err := Model(Baseline(2), pinned)
	if err != nil {
		t.Fatal(err)
	}
	if !e.Safe || e.DrainMargin != 180*time.Second {
		t.Errorf("baseline safe = %v with drain margin %v, want safe with 3m0s", e.Safe, e.DrainMargin)
	}
	if e.Rollout != 630*time.Second || e.Batches != 1 {
		t.Errorf("baseline rolls out in %d batches, %v; want 1 batch, 10m30s", e.Batches, e.Rollout)
	}
	if e.Serving != 330*time.Second {
		t.Errorf("a stopped baseline task serves for %v, want 5m30s (300 + 30)", e.Serving)
	}
	passthrough := estimate(t, load(t, fixture), "ApiService")
	if e.Rollout <= passthrough.Rollout {
		t.Errorf("baseline %v is not slower than Passthrough's %v", e.Rollout, passthrough.Rollout)
	}
}

// The rollout never shrinks when a duration grows, when the minimum healthy
// percent grows or when the maximum percent shrinks.
func TestModelIsMonotonic(t *testing.T) {
	grow := map[string]func(s *Settings){
		"interval":       func(s *Settings) { s.HealthCheckInterval += time.Second },
		"healthy":        func(s *Settings) { s.HealthyThreshold++ },
		"deregistration": func(s *Settings) { s.DeregistrationDelay += time.Second },
		"stop":           func(s *Settings) { s.StopTimeout += time.Second },
		"min healthy":    func(s *Settings) { s.MinHealthyPercent = min(100, s.MinHealthyPercent+10) },
		"lower max":      func(s *Settings) { s.MaxPercent = max(100, s.MaxPercent-10) },
	}
	for n := 1; n <= 12; n++ {
		for m := 0; m <= 100; m += 10 {
			for mx := 100; mx <= 200; mx += 10 {
				s := Settings{HealthCheckInterval: 5 * time.Second, HealthyThreshold: 2, DeregistrationDelay: 120 * time.Second,
					MinHealthyPercent: m, MaxPercent: mx, StopTimeout: 30 * time.Second, DesiredCount: n}
				before, err := Model(s, pinned)
				if err != nil {
					continue // stuck settings have no rollout time
				}
				for name, g := range grow {
					after := s
					g(&after)
					a, err := Model(after, pinned)
					if errors.Is(err, ErrStuck) {
						continue // growing into a stuck configuration: slower without bound
					}
					if err != nil {
						t.Fatal(err)
					}
					if a.Rollout < before.Rollout {
						t.Errorf("N=%d m=%d M=%d: growing %s shrank the rollout %v -> %v", n, m, mx, name, before.Rollout, a.Rollout)
					}
				}
			}
		}
	}
}

func TestModelRejects(t *testing.T) {
	ok := Baseline(1)
	cases := map[string]struct {
		change func(s *Settings)
		stuck  bool
	}{
		"minimum healthy 100 % with maximum 100 %": {func(s *Settings) { s.MinHealthyPercent, s.MaxPercent = 100, 100 }, true},
		"one task, minimum 100 %, maximum 150 %":   {func(s *Settings) { s.MinHealthyPercent, s.MaxPercent = 100, 150 }, true},
		"no tasks":                                 {func(s *Settings) { s.DesiredCount = 0 }, false},
		"no interval":                              {func(s *Settings) { s.HealthCheckInterval = 0 }, false},
		"minimum healthy above 100 %":              {func(s *Settings) { s.MinHealthyPercent = 101 }, false},
		"negative stop timeout":                    {func(s *Settings) { s.StopTimeout = -time.Second }, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := ok
			tc.change(&s)
			_, err := Model(s, pinned)
			if err == nil {
				t.Fatal("accepted")
			}
			if errors.Is(err, ErrStuck) != tc.stuck {
				t.Errorf("error %q: stuck = %v, want %v", err, !tc.stuck, tc.stuck)
			}
		})
	}
}

// A blue/green deployment of the same service: every new task at once,
// then the two traffic shifts ECS delays by 10 minutes each behind an NLB,
// the TLS check and the bake time; its rollback is one shift back. It is
// slower than the baseline on purpose, and held to Safe only.
func TestBlueGreenCostsTwoTrafficShiftsTheHookAndTheBakeTime(t *testing.T) {
	s := passthroughDefaults
	s.BlueGreen, s.BakeTime = true, 10*time.Minute
	s.MinHealthyPercent, s.MaxPercent = 100, 100 // stuck if rolling; blue/green ignores them
	c, err := Compare(s, Baseline(2), pinned)
	if err != nil {
		t.Fatal(err)
	}
	e := c.Service
	// 310 s batch + 1200 s shifts + 60 s hook + 600 s bake.
	if e.Batches != 1 || e.Cycle != 310*time.Second || e.TrafficShifts != 20*time.Minute || e.Hook != time.Minute ||
		e.Bake != 10*time.Minute || e.Rollout != 2170*time.Second || e.Rollback != 10*time.Minute {
		t.Errorf("got %+v", e)
	}
	if missing := c.Shortfalls(); len(missing) != 0 || verdict(c) != "blue/green: safe" {
		t.Errorf("shortfalls %q, verdict %q; want none, blue/green: safe", missing, verdict(c))
	}
	s.DeregistrationDelay = time.Minute
	if c, _ := Compare(s, Baseline(2), pinned); len(c.Shortfalls()) != 1 || c.Shortfalls()[0] != "unsafe" {
		t.Errorf("a 60 s deregistration delay: shortfalls %q, want unsafe", c.Shortfalls())
	}
}
