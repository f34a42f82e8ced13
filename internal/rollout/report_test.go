package rollout

import (
	"strings"
	"testing"
)

// markdown renders one fixture, changed by change (if not nil), as stack
// name with the pinned constants.
func markdown(t *testing.T, name, path string, change func(tmpl map[string]any)) string {
	t.Helper()
	tmpl := load(t, path)
	if change != nil {
		change(tmpl)
	}
	out, err := Markdown(map[string]map[string]any{name: tmpl}, pinned)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// With the pinned constants the fixture meets the requirement with 10 s to
// spare (630 − 2 × 310 = 10 s on both sides), and the text says so and what
// the other figures of the sources do to it:
//
//	AWS Support 180 s: 30 + 180 + 10 + 120 + 30 = 370 s against
//	30 + 180 + 150 + 300 + 30 = 690 s, 1.86×, and 120 s < 180 s: unsafe;
//	one check: 30 + 120 + 5 + 120 + 30 = 305 s against
//	30 + 120 + 30 + 300 + 30 = 510 s, 1.67×;
//	task start 60 s: 340 s against 660 s, 1.94×.
func TestSensitivityText(t *testing.T) {
	out := markdown(t, "passthrough", fixture, nil)
	for _, want := range []string{
		"| as modelled above | 310 s (5 min 10 s) | 630 s (10 min 30 s) | 2.03× | yes | met |",
		"| registration delay and drain window 180 s (AWS Support, aws-load-balancer-controller#1834) | 370 s (6 min 10 s) | 690 s (11 min 30 s) | 1.86× | **no** | **not met**: under 2×, unsafe |",
		"| a new target healthy after one check (Amazon ECS guide) | 305 s (5 min 5 s) | 510 s (8 min 30 s) | 1.67× | yes | **not met**: under 2× |",
		"| image pull and task start 60 s (1 min) | 340 s (5 min 40 s) | 660 s (11 min) | 1.94× | yes | **not met**: under 2× |",
		"The requirement is met in 1 of the 4 scenarios (as modelled above).",
		"the speed-up stays at least 2× only while they take at most 10 s more, 160 s (2 min 40 s) in all.",
		"A registration delay above 130 s (2 min 10 s), within the reported 70 s (1 min 10 s) to 300 s (5 min), alone takes it below.",
		"The deregistration delay of 120 s (2 min) is safe at the modelled drain window of 120 s (2 min), with nothing to spare; " +
			"under AWS Support's 180 s (3 min) to 300 s (5 min) it is **unsafe**: a stopped task may still be sent new connections for 60 s (1 min) to 180 s (3 min) after the delay",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}

	// Stop timeout 60 s: 340 s against 630 s, 1.85×; 2 × 340 − 630 = 50 s too much.
	out = markdown(t, "passthrough", fixture, func(tmpl map[string]any) {
		for _, name := range []string{"ApiTaskDefinition", "AdminTaskDefinition"} {
			stopTimeout(name, 60)(t, tmpl)
		}
	})
	for _, want := range []string{
		"| as modelled above | 340 s (5 min 40 s) | 630 s (10 min 30 s) | 1.85× | yes | **not met**: under 2× |",
		"The requirement is met in 0 of the 4 scenarios.",
		"the speed-up would reach 2× only if they took 50 s less.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stop timeout 60 s: output lacks %q", want)
		}
	}
}

// Each service says where its N comes from, and a service whose count auto
// scaling owns is compared at every count it allows.
func TestTaskCountIsExplained(t *testing.T) {
	out := markdown(t, "scaling", scalingFixture, nil)
	for _, want := range []string{
		"| scaling | LoneService | 1 | **ECS default** | 310 s (5 min 10 s) | 630 s (10 min 30 s) | 2.03× |",
		"| scaling | PinnedService | 4 | DesiredCount (auto scaling 2–6) |",
		"| scaling | ScaledService | 3 | MinCapacity (auto scaling 3–8) |",
		"N = 1 is ECS's default: the template sets no DesiredCount and no ScalableTarget scales the count, so CloudFormation creates the service with 1 task.",
		"N = 4 is the service's DesiredCount; ScalableTarget PinnedServiceTaskCountTarget also scales the count between 2 and 6 tasks.",
		"N = 3 is the MinCapacity of ScalableTarget ScaledServiceTaskCountTarget: Application Auto Scaling owns the count, so the service has no DesiredCount, and a deployment may find 3 to 8 tasks running.",
		"From 3 to 8 tasks the rollout takes 310 s (5 min 10 s) and the baseline 630 s (10 min 30 s); the speed-up is at least 2.03×, and the requirement is met at every count.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}

	// m = 50 %, M = 150 % between 2 and 3 tasks: 310 s at N = 2 (one batch),
	// 620 s at N = 3 (two batches of 2), against the baseline's 630 s: 1.02×.
	out = markdown(t, "scaling", scalingFixture, func(tmpl map[string]any) {
		dc := props(t, tmpl, "ScaledService")["DeploymentConfiguration"].(map[string]any)
		dc["MinimumHealthyPercent"], dc["MaximumPercent"] = 50.0, 150.0
		target := props(t, tmpl, "ScaledServiceTaskCountTarget")
		target["MinCapacity"], target["MaxCapacity"] = 2.0, 3.0
	})
	want := "From 2 to 3 tasks the rollout takes 310 s (5 min 10 s) to 620 s (10 min 20 s) and the baseline 630 s (10 min 30 s); " +
		"the speed-up is at least 1.02×, and the requirement is **not met** at N = 3."
	if !strings.Contains(out, want) {
		t.Errorf("output lacks %q", want)
	}
}

// A template without a service, or with one the model cannot read, is an
// error that names its stack.
func TestMarkdownNamesTheStackItCannotModel(t *testing.T) {
	_, err := Markdown(map[string]map[string]any{"empty": {"Resources": map[string]any{}}}, pinned)
	if err == nil || err.Error() != "empty: no AWS::ECS::Service" {
		t.Errorf("error %v, want empty: no AWS::ECS::Service", err)
	}
	tmpl := load(t, fixture)
	delete(props(t, tmpl, "ApiService"), "LoadBalancers")
	_, err = Markdown(map[string]map[string]any{"passthrough": tmpl}, pinned)
	if err == nil || !strings.HasPrefix(err.Error(), "passthrough: ApiServiceD5B4A50A: LoadBalancers: none") {
		t.Errorf("error %v, want one naming passthrough and ApiServiceD5B4A50A", err)
	}
}
