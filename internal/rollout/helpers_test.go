package rollout

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/passthrough-cdk/passthrough/internal/cfn"
	_ "github.com/passthrough-cdk/passthrough/internal/golden" // accepts the -update of `go test ./... -update`
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
		if cfn.ShortName(id) == name {
			if found != nil {
				t.Fatalf("more than one resource named %s", name)
			}
			found = r.(map[string]any)["Properties"].(map[string]any)
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
