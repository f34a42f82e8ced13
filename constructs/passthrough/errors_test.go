package passthrough_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/internal/cdktest"
)

// Values only known at deploy time, such as CloudFormation parameters, pass
// validation unchanged.
func TestTokensAreNotRejected(t *testing.T) {
	f := newFixture(t, false)
	listener := awscdk.NewCfnParameter(f.stack, jsii.String("ListenerPort"), &awscdk.CfnParameterProps{Type: jsii.String("Number"), Default: 443})
	container := awscdk.NewCfnParameter(f.stack, jsii.String("ContainerPort"), &awscdk.CfnParameterProps{Type: jsii.String("Number"), Default: 8443})
	delay := awscdk.NewCfnParameter(f.stack, jsii.String("Delay"), &awscdk.CfnParameterProps{Type: jsii.String("Number"), Default: 120})
	p := f.service(0)
	p.ListenerPort = listener.ValueAsNumber()
	p.ContainerPort = container.ValueAsNumber()
	p.DeregistrationDelay = awscdk.Duration_Seconds(delay.ValueAsNumber())
	newFargate(f, "Api", p, 256, 512)

	tpl := f.template(t)
	tpl.Has(typeListener, map[string]any{"Port": ref("ListenerPort")})
	tpl.Has(typeService, map[string]any{"LoadBalancers": []any{assertions.Match_ObjectLike(&map[string]any{"ContainerPort": ref("ContainerPort")})}})
}

// The message a user sees first is the validation message, not a jsii or Go
// stack trace.
func TestValidationErrorIsOneLine(t *testing.T) {
	f := newFixture(t, false)
	err := cdktest.Invalid(t, func() { f.fargate("Api", 0) })
	if msg := err.Error(); strings.Contains(msg, "\n") {
		t.Errorf("message spans several lines: %q", msg)
	}
	if err.Path != "Test/Api" || err.Prop != "ListenerPort" || err.Value != "0" {
		t.Errorf("fields = %+v, want path Test/Api, prop ListenerPort, value 0", err)
	}
}
