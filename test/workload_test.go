package test

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/passthrough-cdk/passthrough/examples/stacks"
	"github.com/passthrough-cdk/passthrough/internal/cdktest"
)

// nlbDrainWindow is how long a Network Load Balancer keeps opening new
// connections to a target after its deregistration starts: about two
// minutes (the README's "Defaults and why" cites the reports). The
// deregistration delay must cover it, since ECS sends SIGTERM right after
// the delay.
const nlbDrainWindow = 120

// ecsMaxStopTimeout is the largest container stopTimeout ECS accepts.
const ecsMaxStopTimeout = 120

// containers returns every container definition of the template, keyed by
// "TaskDefinitionID/ContainerName".
func containers(tpl *cdktest.Template) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, td := range tpl.Resources(typeTaskDef) {
		for _, c := range td["ContainerDefinitions"].([]any) {
			m := c.(map[string]any)
			out[id+"/"+m["Name"].(string)] = m
		}
	}
	return out
}

func nameValues(list any) map[string]any {
	out := map[string]any{}
	items, _ := list.([]any)
	for _, item := range items {
		m := item.(map[string]any)
		if v, ok := m["Value"]; ok {
			out[m["Name"].(string)] = v
		} else {
			out[m["Name"].(string)] = m["ValueFrom"]
		}
	}
	return out
}

// Certificates reach the containers as ECS secrets from the secret the
// CertificateSecretArn parameter names, never in plain environment, and the
// parameter has no default, so a deployment without it fails before any
// resource is created.
func TestExamplesDeliverCertificatesAsSecrets(t *testing.T) {
	forEachExample(t, func(t *testing.T, tpl *cdktest.Template) {
		params, _ := tpl.JSON()["Parameters"].(map[string]any)
		p, ok := params["CertificateSecretArn"].(map[string]any)
		if !ok && len(tpl.Resources("AWS::CertificateManager::Certificate")) > 0 {
			checkExportedCertificateSecrets(t, tpl)
			return
		}
		if !ok {
			t.Fatal("no CertificateSecretArn parameter")
		}
		if _, hasDefault := p["Default"]; hasDefault {
			t.Errorf("CertificateSecretArn has a default %v; a deployment without a certificate must fail up front", p["Default"])
		}
		if p["AllowedPattern"] == nil {
			t.Error("CertificateSecretArn accepts any string")
		}
		for name, c := range containers(tpl) {
			secrets := nameValues(c["Secrets"])
			for _, v := range []string{"TLS_CERT", "TLS_KEY"} {
				ref, _ := json.Marshal(secrets[v])
				if !strings.Contains(string(ref), `"Ref":"CertificateSecretArn"`) {
					t.Errorf("%s: secret %s comes from %s, not from the CertificateSecretArn parameter", name, v, ref)
				}
			}
			for env := range nameValues(c["Environment"]) {
				if strings.HasPrefix(env, "TLS_") {
					t.Errorf("%s: %s is in plain environment", name, env)
				}
			}
		}
		raw, _ := json.Marshal(tpl.JSON())
		if strings.Contains(string(raw), "BEGIN ") {
			t.Error("the template contains PEM material")
		}
	})
}

// checkExportedCertificateSecrets: a stack whose certificate is ACM's
// (passthrough.NewExportedCertificate) delivers certificate and encrypted
// key from a secret it creates, and the passphrase from another, both as
// ECS secrets; no parameter has a default.
func checkExportedCertificateSecrets(t *testing.T, tpl *cdktest.Template) {
	t.Helper()
	for name, p := range tpl.JSON()["Parameters"].(map[string]any) {
		if _, hasDefault := p.(map[string]any)["Default"]; hasDefault && !strings.HasPrefix(name, "BootstrapVersion") && !strings.HasPrefix(name, "SsmParameterValue") {
			t.Errorf("parameter %s has a default", name)
		}
	}
	secrets := tpl.Resources("AWS::SecretsManager::Secret")
	for name, c := range containers(tpl) {
		got := nameValues(c["Secrets"])
		for _, v := range []string{"TLS_CERT", "TLS_KEY", "TLS_KEY_PASSPHRASE"} {
			// {"Ref": S} for a whole secret, Fn::Join of it and ":field::"
			// for a JSON field.
			arn, _ := json.Marshal(got[v])
			m := regexp.MustCompile(`^(?:\{"Fn::Join":\["",\[)?\{"Ref":"([A-Za-z0-9]+)"\}(?:,":[A-Za-z]+::"\]\]\})?$`).FindStringSubmatch(string(arn))
			if len(m) == 0 || secrets[m[1]] == nil {
				t.Errorf("%s: secret %s comes from %s, not from a secret of the stack", name, v, arn)
			}
		}
		for env := range nameValues(c["Environment"]) {
			if strings.HasPrefix(env, "TLS_") {
				t.Errorf("%s: %s is in plain environment", name, env)
			}
		}
	}
}

// A stopped task loses no connection: the deregistration delay covers the
// time the NLB still opens connections to it, ECS sends SIGTERM only then,
// and the server's shutdown budget fits in the container's stop timeout.
func TestExamplesShutdownFitsTheStopTimeout(t *testing.T) {
	forEachExample(t, func(t *testing.T, tpl *cdktest.Template) {
		for id, tg := range tpl.Resources(typeTargetGroup) {
			attrs := map[string]string{}
			for _, a := range tg["TargetGroupAttributes"].([]any) {
				m := a.(map[string]any)
				attrs[m["Key"].(string)] = m["Value"].(string)
			}
			delay, err := strconv.Atoi(attrs["deregistration_delay.timeout_seconds"])
			if err != nil || delay < nlbDrainWindow {
				t.Errorf("target group %s deregistration delay %q, want at least %d s", id, attrs["deregistration_delay.timeout_seconds"], nlbDrainWindow)
			}
		}
		for name, c := range containers(tpl) {
			stop, ok := c["StopTimeout"].(float64)
			if !ok || stop > ecsMaxStopTimeout {
				t.Errorf("%s: stop timeout %v, want set and at most %d s", name, c["StopTimeout"], ecsMaxStopTimeout)
				continue
			}
			budget, err := strconv.Atoi(nameValues(c["Environment"])["SHUTDOWN_TIMEOUT_SECONDS"].(string))
			if err != nil || float64(budget) >= stop {
				t.Errorf("%s: server shutdown budget %v s is not below the stop timeout %v s", name, budget, stop)
			}
		}
	})
}

// The examples deploy the example TLS server, built from this repository,
// with its TLS-aware container health check.
func TestExamplesRunTheExampleServer(t *testing.T) {
	forEachExample(t, func(t *testing.T, tpl *cdktest.Template) {
		for name, c := range containers(tpl) {
			image, _ := json.Marshal(c["Image"])
			if !strings.Contains(string(image), "container-assets") {
				t.Errorf("%s: image %s is not the example server's asset", name, image)
			}
			hc, _ := c["HealthCheck"].(map[string]any)
			cmd, _ := json.Marshal(hc["Command"])
			if string(cmd) != `["CMD","/tlsserver","-healthcheck"]` {
				t.Errorf("%s: container health check %s, want the server's -healthcheck", name, cmd)
			}
		}
	})
}

// `-c image=NAME` swaps the example server for another image, which then
// gets no health check command that would not exist in it.
func TestImageContextReplacesTheExampleServer(t *testing.T) {
	ctx := cdktest.AppContext(t)
	ctx[stacks.ImageContextKey] = "registry.example.com/tls:1"
	app := cdktest.NewApp(t, ctx)
	for _, stack := range stacks.All(app) {
		tpl := cdktest.TemplateOf(t, stack)
		for name, c := range containers(tpl) {
			if c["Image"] != "registry.example.com/tls:1" {
				t.Errorf("%s: image %v, want the one from context", name, c["Image"])
			}
			if c["HealthCheck"] != nil {
				t.Errorf("%s: health check %v on an image that may not have the command", name, c["HealthCheck"])
			}
		}
	}
}

// `-c stackNameSuffix=SUFFIX` renames every example stack in CloudFormation,
// and the names derived from it, so that the deploy tests' runs do not
// collide; the construct IDs, which `cdk deploy` selects by, stay.
func TestStackNameSuffixRenamesEveryExampleStack(t *testing.T) {
	ctx := cdktest.AppContext(t)
	ctx[stacks.StackNameSuffixContextKey] = "-it260102-0304-abcd"
	app := cdktest.NewApp(t, ctx)
	for _, stack := range stacks.All(app) {
		id := *stack.Node().Id()
		if got, want := *stack.StackName(), id+"-it260102-0304-abcd"; got != want {
			t.Errorf("stack %s: name %s, want %s", id, got, want)
		}
		for alarm, props := range cdktest.TemplateOf(t, stack).Resources("AWS::CloudWatch::Alarm") {
			if name, _ := props["AlarmName"].(string); !strings.HasPrefix(name, id+"-it260102-0304-abcd-") {
				t.Errorf("%s/%s: alarm name %q does not carry the suffixed stack name", id, alarm, name)
			}
		}
	}
}
