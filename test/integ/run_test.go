package integ

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRunIDCarriesItsStartAndFitsEveryName(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 59, 0, time.FixedZone("CET", 3600))
	run, err := NewRunID(start, bytes.NewReader([]byte{0xab, 0x12}))
	if err != nil {
		t.Fatal(err)
	}
	if run != "it260102-0204-ab12" {
		t.Fatalf("run ID %q, want it260102-0204-ab12 (UTC, to the minute)", run)
	}
	if got, want := run.Started(), time.Date(2026, 1, 2, 2, 4, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("started %s, want %s", got, want)
	}
	name, err := run.StackName("PassthroughServiceToServiceFargate")
	if err != nil || name != "PassthroughServiceToServiceFargate-it260102-0204-ab12" {
		t.Errorf("stack name %q, %v", name, err)
	}
	// ECS allows 36 characters of startedBy, SQS 80 of a queue name.
	if s := run.StartedBy(); len(s) > 36 || s != "integ-it260102-0204-ab12" {
		t.Errorf("startedBy %q", s)
	}
	if q := run.QueueName(strings.Repeat("PublicServicesFargate", 5)); len(q) != 80 || !strings.HasPrefix(q, QueuePrefix+string(run)+"-publicservices") {
		t.Errorf("queue name %q (%d characters)", q, len(q))
	}
	if s := run.SecretName("PrivateLink"); s != "passthrough-integ/it260102-0204-ab12/PrivateLink" {
		t.Errorf("secret name %q", s)
	}
}

func TestStackNameMustBeValidForCloudFormation(t *testing.T) {
	run := RunID("it260102-0204-ab12")
	for base, want := range map[string]string{
		"1Passthrough":           `stack name "1Passthrough-it260102-0204-ab12": want letters, digits and hyphens, starting with a letter, at most 128 characters`,
		"Pass_through":           `stack name "Pass_through-it260102-0204-ab12": want letters, digits and hyphens`,
		strings.Repeat("P", 110): `at most 128 characters`,
	} {
		if _, err := run.StackName(base); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to contain %q", base, err, want)
		}
	}
}

func TestRunIDIsFoundInNamesMadeFromStackNames(t *testing.T) {
	for name, want := range map[string]RunID{
		"PassthroughX-it260101-0900-0a1b-ApiLogsCD139AD4-hG7fT2sW9qLe": "it260101-0900-0a1b",
		"/aws/lambda/PassthroughX-it260101-0900-0a1b":                  "it260101-0900-0a1b",
		"it260101-0900-0a1b": "it260101-0900-0a1b",
		"PassthroughPublicAndInternalFa-CustomVpcRestrictDefaultSG-Pl0": "",
		"PassthroughX-it260101-0900-0a1bc-Logs":                         "", // not the whole word
	} {
		got, ok := RunIn(name)
		if got != want || ok != (want != "") {
			t.Errorf("RunIn(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
	for _, bad := range []string{"it-bogus", "it261301-0900-0a1b", "x-it260101-0900-0a1b", ""} {
		if _, _, err := ParseRunID(bad); err == nil {
			t.Errorf("ParseRunID(%q) accepted it", bad)
		}
	}
}

// The manifest of a real `cdk synth -c stackNameSuffix=...` of the example
// app: every example stack, under its construct ID, with the suffixed name.
func TestReadAssemblyListsTheSuffixedStacks(t *testing.T) {
	stacks, err := ReadAssembly("testdata")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range stacks {
		ids = append(ids, s.ID)
		if s.StackName != s.ID+"-it260102-0304-ab12" || s.TemplateFile != s.ID+".template.json" {
			t.Errorf("%s: name %s, template %s", s.ID, s.StackName, s.TemplateFile)
		}
		if len(s.Dependencies) != 0 {
			t.Errorf("%s: dependencies %v; asset manifests are not stacks", s.ID, s.Dependencies)
		}
	}
	want := []string{"PassthroughPrivateLinkConsumer", "PassthroughPrivateLinkProvider", "PassthroughPublicAndInternalFargate",
		"PassthroughPublicServicesEC2", "PassthroughPublicServicesFargate", "PassthroughServiceToServiceEC2", "PassthroughServiceToServiceFargate"}
	if !reflect.DeepEqual(ids, want) {
		t.Errorf("stacks %v, want %v", ids, want)
	}
	if _, err := Stack(stacks, "PassthroughNope"); err == nil || err.Error() != "no stack PassthroughNope in the assembly" {
		t.Errorf("unknown stack: %v", err)
	}
}

// Without a stackName in the manifest the stack's name is its ID, and a
// dependency on another stack is kept.
func TestReadAssemblyDefaultsAndDependencies(t *testing.T) {
	dir := t.TempDir()
	manifest := `{"version":"55.0.0","artifacts":{
		"A":{"type":"aws:cloudformation:stack","properties":{"templateFile":"A.template.json"},"dependencies":["B","A.assets"]},
		"B":{"type":"aws:cloudformation:stack","properties":{"templateFile":"B.template.json","stackName":"b-1"}},
		"A.assets":{"type":"cdk:asset-manifest","properties":{"file":"A.assets.json"}}}}`
	os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(manifest), 0o644)
	os.WriteFile(filepath.Join(dir, "A.template.json"), []byte(`{"Resources":{}}`), 0o644)
	stacks, err := ReadAssembly(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []AssemblyStack{
		{ID: "A", StackName: "A", TemplateFile: "A.template.json", Dependencies: []string{"B"}},
		{ID: "B", StackName: "b-1", TemplateFile: "B.template.json"},
	}
	if !reflect.DeepEqual(stacks, want) {
		t.Errorf("got %+v\nwant %+v", stacks, want)
	}
	if tpl, err := stacks[0].Template(dir); err != nil || tpl["Resources"] == nil {
		t.Errorf("template %v, %v", tpl, err)
	}
	if _, err := stacks[1].Template(dir); err == nil {
		t.Error("read a template that is not there")
	}
}
