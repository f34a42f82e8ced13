package passthrough

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/internal/gofunc"
)

// goFunctionCode is the code of function name (functions/<name>, a main
// package of the functions module), compiled from Go source while the app
// synthesizes (internal/gofunc says how the source is found). A build that
// fails stops synthesis with the go command's message, naming the construct
// and the prop that asked for the function: the alternative, a template
// without the function, would deploy a feature that silently does nothing.
func goFunctionCode(scope constructs.Construct, prop, name string) awslambda.Code {
	dir, err := gofunc.Build(name)
	if err != nil {
		panic(&ValidationError{Path: *scope.Node().Path(), Prop: prop,
			Reason: "needs the function " + name + ", built from Go source while the app synthesizes, and its build failed: " + err.Error()})
	}
	return awslambda.Code_FromAsset(jsii.String(dir), nil)
}

// newGoFunction creates function name with the runtime every Go function
// of this library shares: provided.al2023 on Graviton (arm64: the lower
// Lambda price per GB-second), whose bootstrap is the Go executable itself.
// props supplies everything else (role, VPC, environment, timeout); its
// Code, Runtime, Handler and Architecture are overwritten.
func newGoFunction(scope constructs.Construct, id, prop, name string, props *awslambda.FunctionProps) awslambda.Function {
	p := awslambda.FunctionProps{}
	if props != nil {
		p = *props
	}
	p.Code = goFunctionCode(scope, prop, name)
	p.Runtime = awslambda.Runtime_PROVIDED_AL2023()
	p.Architecture = awslambda.Architecture_ARM_64()
	p.Handler = jsii.String(gofunc.Executable)
	return awslambda.NewFunction(scope, jsii.String(id), &p)
}
