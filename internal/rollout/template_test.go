package rollout

import (
	"cmp"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

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
// (testdata/README.md) reads as Baseline(1): the defaults FromTemplate fills
// in and the baseline's figures agree. The pattern sets no DesiredCount and
// no auto scaling, so its one task is ECS's creation default.
func TestBaselineIsWhatThePatternSynthesizes(t *testing.T) {
	s := service(t, load(t, patternFixture), "Service")
	if s.Settings != Baseline(1) {
		t.Errorf("pattern template reads\n %+v\nBaseline(1) is\n %+v", s.Settings, Baseline(1))
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
