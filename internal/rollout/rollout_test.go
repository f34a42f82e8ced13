package rollout

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	// goldenDir holds the synthesized templates of the example stacks. Other
	// changes regenerate them, and new stacks appear; only the tests of
	// properties every Passthrough service must have read them.
	goldenDir = "../../test/testdata"
	// fixture holds two services with Passthrough's default settings,
	// written by hand (testdata/README.md): the tests that change one
	// setting and check the arithmetic start from it.
	fixture = "testdata/passthrough.template.json"
	// scalingFixture holds services whose task count comes from a
	// DesiredCount, a ScalableTarget or neither.
	scalingFixture = "testdata/scaling.template.json"
	// patternFixture is aws-cdk-lib's NetworkLoadBalancedFargateService.
	patternFixture = "testdata/pattern.template.json"
)

// pinned are the constants the hand-computed figures below use, written out
// so that a change of a Default constant does not silently change them.
var pinned = Constants{TaskStart: 30 * time.Second, RegistrationDelay: 120 * time.Second, DrainWindow: 120 * time.Second}

// passthroughDefaults are the settings Passthrough's constructs synthesize
// by default (constructs/passthrough/service.go), as the fixture holds them.
var passthroughDefaults = Settings{
	HealthCheckInterval:    5 * time.Second,
	HealthyThreshold:       2,
	UnhealthyThreshold:     2,
	HealthCheckGracePeriod: 60 * time.Second,
	DeregistrationDelay:    120 * time.Second,
	MinHealthyPercent:      100,
	MaxPercent:             200,
	StopTimeout:            30 * time.Second,
	DesiredCount:           2,
}

func goldenFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(goldenDir, "*.template.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden templates in %s (err %v)", goldenDir, err)
	}
	return files
}

// load decodes a template afresh, so that each caller can change its copy.
func load(t *testing.T, path string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tmpl map[string]any
	if err := json.Unmarshal(raw, &tmpl); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return tmpl
}

// props returns the Properties of the one resource whose logical ID, less
// CDK's suffix, is name.
func props(t *testing.T, tmpl map[string]any, name string) map[string]any {
	t.Helper()
	var found map[string]any
	for id, r := range tmpl["Resources"].(map[string]any) {
		if serviceName(id) == name {
			if found != nil {
				t.Fatalf("more than one resource named %s", name)
			}
			found = properties(r)
		}
	}
	if found == nil {
		t.Fatalf("no resource named %s", name)
	}
	return found
}

func service(t *testing.T, tmpl map[string]any, name string) Service {
	t.Helper()
	services, err := FromTemplate(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range services {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no service %s in %v", name, services)
	return Service{}
}

func estimate(t *testing.T, tmpl map[string]any, name string) Estimate {
	t.Helper()
	e, err := Model(service(t, tmpl, name).Settings, pinned)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// The fixture holds Passthrough's default settings, and at least one service
// of the golden templates still has them: when the constructs' defaults
// change, this fails, and the fixture and the arithmetic of the tests below
// must follow. A new golden stack whose services set other values does not
// make it fail.
func TestFixtureHasTheGoldenDefaults(t *testing.T) {
	for _, name := range []string{"ApiService", "AdminService"} {
		s := service(t, load(t, fixture), name)
		if s.Settings != passthroughDefaults || s.Count.Source != FromDesiredCount {
			t.Errorf("fixture %s reads\n %+v from %v\nwant\n %+v from its DesiredCount", name, s.Settings, s.Count, passthroughDefaults)
		}
	}
	var seen []string
	for _, f := range goldenFiles(t) {
		services, err := FromTemplate(load(t, f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, s := range services {
			if s.Settings == passthroughDefaults {
				return
			}
			seen = append(seen, fmt.Sprintf("%s %s: %+v", filepath.Base(f), s.Name, s.Settings))
		}
	}
	t.Errorf("no golden service has the fixture's settings\n %+v\nany more; if the constructs' defaults changed, update %s, passthroughDefaults and the arithmetic of these tests. Golden services:\n %s",
		passthroughDefaults, fixture, strings.Join(seen, "\n "))
}

// Every service of every golden template can be modelled, and its task count
// comes from the template: Passthrough's constructs set either a
// DesiredCount or, with auto scaling, a ScalableTarget, so a service at
// ECS's creation default would mean FromTemplate missed its ScalableTarget.
func TestGoldenTemplatesRead(t *testing.T) {
	for _, f := range goldenFiles(t) {
		services, err := FromTemplate(load(t, f))
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		if len(services) == 0 {
			t.Errorf("%s: no AWS::ECS::Service", filepath.Base(f))
		}
		for _, s := range services {
			switch s.Count.Source {
			case FromDesiredCount:
			case FromMinCapacity:
				if s.Settings.DesiredCount != s.Count.MinCapacity {
					t.Errorf("%s %s: N = %d, MinCapacity %d", filepath.Base(f), s.Name, s.Settings.DesiredCount, s.Count.MinCapacity)
				}
			default:
				t.Errorf("%s %s: task count %+v: neither a DesiredCount nor a ScalableTarget found", filepath.Base(f), s.Name, s.Count)
			}
		}
	}
}

// A template shaped like aws-cdk-lib's NetworkLoadBalancedFargateService
// (testdata/README.md) reads as Baseline(): the defaults FromTemplate fills
// in and the baseline's figures agree. The pattern sets no DesiredCount and
// no auto scaling, so its one task is ECS's creation default.
func TestBaselineIsWhatThePatternSynthesizes(t *testing.T) {
	s := service(t, load(t, patternFixture), "Service")
	if s.Settings != Baseline() {
		t.Errorf("pattern template reads\n %+v\nBaseline() is\n %+v", s.Settings, Baseline())
	}
	if s.Count != (Count{Source: FromECSDefault}) {
		t.Errorf("pattern's task count %+v, want ECS's default", s.Count)
	}
}

// Where the task count N comes from (testdata/scaling.template.json): a
// DesiredCount wins; without one, the MinCapacity of the ScalableTarget
// whose ResourceId takes the service's Name; without either, ECS's creation
// default of 1. A ScalableTarget of another dimension does not count.
func TestTaskCountFromScalableTarget(t *testing.T) {
	tmpl := load(t, scalingFixture)
	for name, want := range map[string]struct {
		n      int
		count  Count
		lo, hi int
	}{
		"ScaledService": {3, Count{Source: FromMinCapacity, ScalableTarget: "ScaledServiceTaskCountTarget", MinCapacity: 3, MaxCapacity: 8}, 3, 8},
		"PinnedService": {4, Count{Source: FromDesiredCount, ScalableTarget: "PinnedServiceTaskCountTarget", MinCapacity: 2, MaxCapacity: 6}, 2, 6},
		"LoneService":   {1, Count{Source: FromECSDefault}, 1, 1},
	} {
		s := service(t, tmpl, name)
		if s.Settings.DesiredCount != want.n || s.Count != want.count {
			t.Errorf("%s: N = %d from %+v, want %d from %+v", name, s.Settings.DesiredCount, s.Count, want.n, want.count)
		}
		if lo, hi := s.Range(); lo != want.lo || hi != want.hi {
			t.Errorf("%s: range %d-%d, want %d-%d", name, lo, hi, want.lo, want.hi)
		}
		// Everything but the count is Passthrough's defaults.
		s.Settings.DesiredCount = passthroughDefaults.DesiredCount
		if s.Settings != passthroughDefaults {
			t.Errorf("%s: %+v", name, s.Settings)
		}
	}

	// MinCapacity sets N.
	props(t, tmpl, "ScaledServiceTaskCountTarget")["MinCapacity"] = 5.0
	if s := service(t, tmpl, "ScaledService"); s.Settings.DesiredCount != 5 {
		t.Errorf("MinCapacity 5: N = %d", s.Settings.DesiredCount)
	}
	// The short form of Fn::GetAtt names the service as well.
	props(t, tmpl, "ScaledServiceTaskCountTarget")["ResourceId"] = map[string]any{"Fn::Join": []any{"/", []any{"service", map[string]any{"Ref": "Cluster"}, map[string]any{"Fn::GetAtt": "ScaledService.Name"}}}}
	if s := service(t, tmpl, "ScaledService"); s.Count.Source != FromMinCapacity || s.Settings.DesiredCount != 5 {
		t.Errorf("Fn::GetAtt \"ScaledService.Name\": N = %d from %+v", s.Settings.DesiredCount, s.Count)
	}
	// Without its ScalableTarget the service falls back to ECS's default.
	delete(tmpl["Resources"].(map[string]any), "ScaledServiceTaskCountTarget")
	if s := service(t, tmpl, "ScaledService"); s.Settings.DesiredCount != 1 || s.Count != (Count{Source: FromECSDefault}) {
		t.Errorf("no ScalableTarget: N = %d from %+v, want 1 from ECS's default", s.Settings.DesiredCount, s.Count)
	}
}

func TestNameAttributes(t *testing.T) {
	getAtt := func(v any) map[string]any { return map[string]any{"Fn::GetAtt": v} }
	for _, tc := range []struct {
		v    any
		want string
	}{
		{getAtt([]any{"Svc", "Name"}), "Svc"},
		{getAtt("Svc.Name"), "Svc"},
		{getAtt([]any{"Svc", "ServiceArn"}), ""},
		{getAtt("Svc.ServiceArn"), ""},
		{map[string]any{"Ref": "Svc"}, ""},
		{"service/cluster/Svc", ""},
		{map[string]any{"Fn::Join": []any{"", []any{"service/", map[string]any{"Ref": "C"}, "/", getAtt([]any{"A", "Name"})}}}, "A"},
		{map[string]any{"Fn::Sub": []any{"service/${C}/${N}", map[string]any{"N": getAtt([]any{"B", "Name"})}}}, "B"},
	} {
		if got := strings.Join(nameAttributes(tc.v), " "); got != tc.want {
			t.Errorf("nameAttributes(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

// Each case changes one setting in a copy of the fixture (after an optional
// base change applied to both sides) and checks that the model moves by the
// amount computed by hand. The fixture's ApiService, Passthrough's
// defaults, with the pinned constants:
//
//	N = 2, m = 100 %, M = 200 %: minHealthy = ceil(2·100/100) = 2,
//	maxRunning = floor(2·200/100) = 4, batch = min(2, 4−2) = 2, batches = 1
//	cycle = 30 start + 120 register + 2×5 checks + 120 drain + 30 stop = 310 s
//	rollout = 1 × 310 = 310 s; serving = 120 + 30 = 150 s; margin = 0: safe
func TestOneSettingMovesTheRollout(t *testing.T) {
	type change func(t *testing.T, tmpl map[string]any)
	set := func(resource, key string, v any) change {
		return func(t *testing.T, tmpl map[string]any) { props(t, tmpl, resource)[key] = v }
	}
	deploy := func(key string, v any) change {
		return func(t *testing.T, tmpl map[string]any) {
			props(t, tmpl, "ApiService")["DeploymentConfiguration"].(map[string]any)[key] = v
		}
	}
	del := func(resource, key string) change {
		return func(t *testing.T, tmpl map[string]any) { delete(props(t, tmpl, resource), key) }
	}
	both := func(a, b change) change {
		return func(t *testing.T, tmpl map[string]any) { a(t, tmpl); b(t, tmpl) }
	}
	const s = time.Second
	cases := []struct {
		requirement string
		base        change // applied before and after; nil: the fixture
		change      change
		rollout     time.Duration // after − before
		serving     time.Duration // after − before
		safe        bool          // after
	}{
		{
			// drain 120 → 60: 1 batch × (60 − 120) = −60 s; serving 60 + 30 = 90 s (−60);
			// margin 60 − 120 = −60 s: a connection of the drain window finds no task.
			requirement: "the deregistration delay is paid once per batch and below the drain window is unsafe",
			change:      deregistration("ApiTargetGroup", "60"), rollout: -60 * s, serving: -60 * s, safe: false,
		},
		{
			// checks 2×5 → 3×5: 1 batch × (+5) = +5 s.
			requirement: "each further healthy check costs one interval",
			change:      set("ApiTargetGroup", "HealthyThresholdCount", 3.0), rollout: 5 * s, safe: true,
		},
		{
			// checks 2×5 → 2×10: 1 batch × (+10) = +10 s.
			requirement: "the interval is paid once per required check",
			change:      set("ApiTargetGroup", "HealthCheckIntervalSeconds", 10.0), rollout: 10 * s, safe: true,
		},
		{
			// stop 30 → 60: 1 batch × (+30) = +30 s; serving 120 + 60 = 180 s (+30).
			requirement: "the stop timeout is paid once per batch and bounds the serving time",
			change:      stopTimeout("ApiTaskDefinition", 60), rollout: 30 * s, serving: 30 * s, safe: true,
		},
		{
			// m 100 → 50: minHealthy = ceil(2·50/100) = 1, batch = min(2, 4−1) = 2: still 1 batch, +0.
			requirement: "at maximum 200 % a lower minimum healthy does not shorten the rollout",
			change:      deploy("MinimumHealthyPercent", 50.0), rollout: 0, safe: true,
		},
		{
			// M 200 → 150: maxRunning = floor(2·150/100) = 3, batch = min(2, 3−2) = 1,
			// batches = 2: 2×310 − 310 = +310 s.
			requirement: "at maximum 150 % two tasks roll out one at a time",
			change:      deploy("MaximumPercent", 150.0), rollout: 310 * s, safe: true,
		},
		{
			// base M = 150: 2 batches, 620 s. m 100 → 50: minHealthy = 1,
			// batch = min(2, 3−1) = 2, 1 batch: 310 − 620 = −310 s.
			requirement: "at maximum 150 % minimum healthy 50 % lets both tasks roll out at once",
			base:        deploy("MaximumPercent", 150.0),
			change:      deploy("MinimumHealthyPercent", 50.0), rollout: -310 * s, safe: true,
		},
		{
			// N 2 → 4: minHealthy 4, maxRunning 8, batch = min(4, 8−4) = 4, 1 batch: +0.
			requirement: "at maximum 200 % more tasks still roll out in one batch",
			change:      set("ApiService", "DesiredCount", 4.0), rollout: 0, safe: true,
		},
		{
			// base M = 150: 2 batches, 620 s. N 2 → 3: minHealthy = 3,
			// maxRunning = floor(3·150/100) = 4, batch = 1, 3 batches = 930 s: +310 s.
			requirement: "at maximum 150 % three tasks take three batches",
			base:        deploy("MaximumPercent", 150.0),
			change:      set("ApiService", "DesiredCount", 3.0), rollout: 310 * s, safe: true,
		},
		{
			// base M = 150, N = 3: 3 batches, 930 s. m 100 → 50: minHealthy = ceil(3·50/100) = 2
			// (ECS rounds up), batch = min(3, 4−2) = 2, batches = ceil(3/2) = 2 = 620 s: −310 s.
			requirement: "the minimum healthy count is rounded up",
			base:        both(deploy("MaximumPercent", 150.0), set("ApiService", "DesiredCount", 3.0)),
			change:      deploy("MinimumHealthyPercent", 50.0), rollout: -310 * s, safe: true,
		},
		{
			// The grace period is no term: +0.
			requirement: "the health check grace period is no wait of a healthy rollout",
			change:      set("ApiService", "HealthCheckGracePeriodSeconds", 300.0), rollout: 0, safe: true,
		},
		{
			// The unhealthy threshold is no term: +0.
			requirement: "the unhealthy threshold is no wait of a healthy rollout",
			change:      set("ApiTargetGroup", "UnhealthyThresholdCount", 3.0), rollout: 0, safe: true,
		},
		{
			// No HealthyThresholdCount: ELB's default 5; checks 2×5 → 5×5: +15 s.
			requirement: "a left-out healthy threshold is Elastic Load Balancing's default of 5",
			change:      del("ApiTargetGroup", "HealthyThresholdCount"), rollout: 15 * s, safe: true,
		},
		{
			// No interval: ELB's default 30 s; checks 2×5 → 2×30: +50 s.
			requirement: "a left-out interval is Elastic Load Balancing's default of 30 s",
			change:      del("ApiTargetGroup", "HealthCheckIntervalSeconds"), rollout: 50 * s, safe: true,
		},
		{
			// No attributes: ELB's default 300 s; drain 120 → 300: +180 s; serving +180 s.
			requirement: "a left-out deregistration delay is Elastic Load Balancing's default of 300 s",
			change:      del("ApiTargetGroup", "TargetGroupAttributes"), rollout: 180 * s, serving: 180 * s, safe: true,
		},
		{
			// No StopTimeout: ECS's default 30 s, the fixture's value: +0.
			requirement: "a left-out stop timeout is ECS's default of 30 s",
			change: func(t *testing.T, tmpl map[string]any) {
				delete(props(t, tmpl, "ApiTaskDefinition")["ContainerDefinitions"].([]any)[0].(map[string]any), "StopTimeout")
			},
			rollout: 0, safe: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.requirement, func(t *testing.T) {
			before, after := load(t, fixture), load(t, fixture)
			if tc.base != nil {
				tc.base(t, before)
				tc.base(t, after)
			}
			tc.change(t, after)
			b, a := estimate(t, before, "ApiService"), estimate(t, after, "ApiService")
			if got := a.Rollout - b.Rollout; got != tc.rollout {
				t.Errorf("rollout moved by %v, want %v (before %v, after %v)", got, tc.rollout, b.Rollout, a.Rollout)
			}
			if got := a.Serving - b.Serving; got != tc.serving {
				t.Errorf("serving time moved by %v, want %v", got, tc.serving)
			}
			if a.Safe != tc.safe {
				t.Errorf("safe = %v after the change, want %v (drain margin %v)", a.Safe, tc.safe, a.DrainMargin)
			}
			// The other service of the template is untouched.
			if bo, ao := estimate(t, before, "AdminService"), estimate(t, after, "AdminService"); bo != ao {
				t.Errorf("AdminService moved: %v -> %v", bo.Rollout, ao.Rollout)
			}
		})
	}
}

// deregistration sets the deregistration delay attribute of a target group.
func deregistration(targetGroup, v string) func(t *testing.T, tmpl map[string]any) {
	return func(t *testing.T, tmpl map[string]any) {
		t.Helper()
		for _, a := range props(t, tmpl, targetGroup)["TargetGroupAttributes"].([]any) {
			if kv := a.(map[string]any); kv["Key"] == deregistrationKey {
				kv["Value"] = v
				return
			}
		}
		t.Fatal("no deregistration delay attribute")
	}
}

// stopTimeout sets the StopTimeout of a task definition's first container.
func stopTimeout(taskDefinition string, v float64) func(t *testing.T, tmpl map[string]any) {
	return func(t *testing.T, tmpl map[string]any) {
		t.Helper()
		props(t, tmpl, taskDefinition)["ContainerDefinitions"].([]any)[0].(map[string]any)["StopTimeout"] = v
	}
}

// The fixture's ApiService, term by term (arithmetic above), beside the
// baseline at the same N = 2 (TestBaselineIsSafeButSlow): 630 / 310 = 2.03×.
func TestFixtureServiceTerms(t *testing.T) {
	e := estimate(t, load(t, fixture), "ApiService")
	want := Estimate{
		Settings: passthroughDefaults, Constants: pinned,
		MinHealthy: 2, MaxRunning: 4, BatchSize: 2, Batches: 1,
		Start: 30 * time.Second, Registration: 120 * time.Second, HealthChecks: 10 * time.Second,
		Drain: 120 * time.Second, Stop: 30 * time.Second, Cycle: 310 * time.Second,
		Rollout: 310 * time.Second, Serving: 150 * time.Second, DrainMargin: 0, Safe: true,
	}
	if e != want {
		t.Errorf("got  %+v\nwant %+v", e, want)
	}
	c, err := Compare(passthroughDefaults, pinned)
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
			cmp, err := Compare(settings, c)
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
	b := Baseline()
	b.DesiredCount = 2
	e, err := Model(b, pinned)
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
	ok := Baseline()
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

func TestFromTemplateRejects(t *testing.T) {
	cases := map[string]struct {
		file    string // fixture unless set
		service string // the service the error must name; ApiService unless set
		change  func(t *testing.T, tmpl map[string]any)
		want    string
	}{
		"target group not a Ref": {change: func(t *testing.T, tmpl map[string]any) {
			props(t, tmpl, "ApiService")["LoadBalancers"].([]any)[0].(map[string]any)["TargetGroupArn"] = "arn:aws:elasticloadbalancing:tg"
		}, want: `LoadBalancers[0].TargetGroupArn: arn:aws:elasticloadbalancing:tg is not a {"Ref": ...}`},
		"target group missing": {change: func(t *testing.T, tmpl map[string]any) {
			delete(tmpl["Resources"].(map[string]any), "ApiTargetGroup54BFE075")
		}, want: "ApiTargetGroup54BFE075 is not a resource of this template"},
		"Ref to the wrong type": {change: func(t *testing.T, tmpl map[string]any) {
			props(t, tmpl, "ApiService")["TaskDefinition"] = map[string]any{"Ref": "ApiTargetGroup54BFE075"}
		}, want: "is a AWS::ElasticLoadBalancingV2::TargetGroup, not a AWS::ECS::TaskDefinition"},
		"no load balancer": {change: func(t *testing.T, tmpl map[string]any) {
			delete(props(t, tmpl, "ApiService"), "LoadBalancers")
		}, want: "LoadBalancers: none"},
		"value known at deploy time": {change: func(t *testing.T, tmpl map[string]any) {
			props(t, tmpl, "ApiService")["DesiredCount"] = map[string]any{"Ref": "Count"}
		}, want: "DesiredCount: map[Ref:Count] is not a literal number"},
		"attribute not a number": {change: deregistration("ApiTargetGroup", "two minutes"),
			want: `deregistration_delay.timeout_seconds: "two minutes" is not a whole number`},
		"fractional stop timeout": {change: stopTimeout("ApiTaskDefinition", 1.5),
			want: "ContainerDefinitions[0]: StopTimeout: 1.5 is not a whole number"},
		"MinCapacity known at deploy time": {file: scalingFixture, service: "ScaledService", change: func(t *testing.T, tmpl map[string]any) {
			props(t, tmpl, "ScaledServiceTaskCountTarget")["MinCapacity"] = map[string]any{"Ref": "Min"}
		}, want: "ScalableTarget ScaledServiceTaskCountTarget: MinCapacity: map[Ref:Min] is not a literal number"},
		"MinCapacity 0": {file: scalingFixture, service: "ScaledService", change: func(t *testing.T, tmpl map[string]any) {
			props(t, tmpl, "ScaledServiceTaskCountTarget")["MinCapacity"] = 0.0
		}, want: "ScalableTarget ScaledServiceTaskCountTarget: MinCapacity 0, MaxCapacity 8: the model needs 1 ≤ MinCapacity ≤ MaxCapacity"},
		"MaxCapacity below MinCapacity": {file: scalingFixture, service: "PinnedService", change: func(t *testing.T, tmpl map[string]any) {
			props(t, tmpl, "PinnedServiceTaskCountTarget")["MaxCapacity"] = 1.0
		}, want: "MinCapacity 2, MaxCapacity 1"},
		"two ScalableTargets of one count": {file: scalingFixture, service: "ScaledService", change: func(t *testing.T, tmpl map[string]any) {
			resources := tmpl["Resources"].(map[string]any)
			resources["AnotherTarget"] = resources["ScaledServiceTaskCountTarget"]
		}, want: "ScalableTargets AnotherTarget, ScaledServiceTaskCountTarget all scale the task count"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			file, svc := cmp.Or(tc.file, fixture), cmp.Or(tc.service, "ApiService")
			tmpl := load(t, file)
			tc.change(t, tmpl)
			_, err := FromTemplate(tmpl)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
			if err != nil && !strings.Contains(err.Error(), svc) {
				t.Errorf("error %q does not name the service %s", err, svc)
			}
		})
	}
	if _, err := FromTemplate(map[string]any{}); err == nil {
		t.Error("a template without Resources was accepted")
	}
}

// The task stops when its slowest container has: the longest StopTimeout of
// its containers, each ECS's default of 30 s when left out, sets the stop
// term.
func TestStopTimeoutIsTheSlowestContainers(t *testing.T) {
	tmpl := load(t, fixture)
	td := props(t, tmpl, "ApiTaskDefinition")
	app := td["ContainerDefinitions"].([]any)[0].(map[string]any)
	sidecar := map[string]any{"Name": "sidecar", "StopTimeout": 90.0}
	td["ContainerDefinitions"] = append(td["ContainerDefinitions"].([]any), sidecar)
	for _, tc := range []struct {
		app, sidecar any // nil: left out
		want         time.Duration
		why          string
	}{
		{30.0, 90.0, 90 * time.Second, "the sidecar's 90 s over the app's 30 s"},
		{45.0, nil, 45 * time.Second, "the app's 45 s over the sidecar's default 30 s"},
		{10.0, nil, 30 * time.Second, "the sidecar's default 30 s over the app's 10 s"},
		{nil, 20.0, 30 * time.Second, "the app's default 30 s over the sidecar's 20 s"},
	} {
		for _, c := range []struct {
			container map[string]any
			v         any
		}{{app, tc.app}, {sidecar, tc.sidecar}} {
			if c.v == nil {
				delete(c.container, "StopTimeout")
			} else {
				c.container["StopTimeout"] = c.v
			}
		}
		if got := service(t, tmpl, "ApiService").Settings.StopTimeout; got != tc.want {
			t.Errorf("app %v, sidecar %v: stop timeout %v, want %s", tc.app, tc.sidecar, got, tc.why)
		}
	}
}

func TestServiceName(t *testing.T) {
	for id, want := range map[string]string{
		"ApiServiceD5B4A50A":   "ApiService",
		"AdminService5C494EA3": "AdminService",
		"Service":              "Service",
		"ServiceD5B4A50":       "ServiceD5B4A50", // 7 hex digits: not CDK's suffix
		"ServiceD5B4A50a":      "ServiceD5B4A50a",
		"D5B4A50A":             "D5B4A50A", // nothing left
	} {
		if got := serviceName(id); got != want {
			t.Errorf("serviceName(%q) = %q, want %q", id, got, want)
		}
	}
}
