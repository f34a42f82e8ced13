// Package stacks holds Passthrough's example stacks, one per architecture of
// the design. Each is written the way a user would copy it into their own CDK
// app; [All] adds every one of them to an app, for the example app in
// examples/ and for the snapshot tests in test/.
package stacks

import (
	"path/filepath"
	"runtime"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecrassets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// ImageContextKey is the CDK context key that replaces the example TLS
// server with another image: `cdk synth -c image=REPOSITORY:TAG`. The image
// must terminate TLS on ContainerPort 8443.
const ImageContextKey = "image"

// Names of the example stacks, as `cdk deploy` takes them.
const (
	PublicServicesFargateStack = "PassthroughPublicServicesFargate"
	PublicServicesEC2Stack     = "PassthroughPublicServicesEC2"
)

// All adds every example stack to app. The stacks are environment-agnostic:
// synthesizing them needs no AWS account or credentials.
func All(app awscdk.App) []awscdk.Stack {
	image := Image(app)
	return []awscdk.Stack{
		NewPublicServicesStack(app, PublicServicesFargateStack, &PublicServicesStackProps{
			StackProps: awscdk.StackProps{Description: jsii.String("Passthrough architecture 1 on Fargate: internet -> one NLB (TCP) -> three TLS services")},
			Image:      image,
		}),
		NewPublicServicesStack(app, PublicServicesEC2Stack, &PublicServicesStackProps{
			StackProps: awscdk.StackProps{Description: jsii.String("Passthrough architecture 1 on EC2: internet -> one NLB (TCP) -> three TLS services on dynamic host ports")},
			Image:      image,
			EC2:        true,
		}),
	}
}

// Image is the container image the examples deploy: the example TLS server
// in examples/tlsserver, built from source at deploy time for linux/amd64
// (synthesis only stages the files; it needs no Docker engine), or the image
// named by the "image" context value.
func Image(scope constructs.Construct) awsecs.ContainerImage {
	if name, ok := scope.Node().TryGetContext(jsii.String(ImageContextKey)).(string); ok && name != "" {
		return awsecs.ContainerImage_FromRegistry(jsii.String(name), nil)
	}
	return awsecs.ContainerImage_FromAsset(jsii.String(repoRoot()), &awsecs.AssetImageProps{
		File:     jsii.String("examples/tlsserver/Dockerfile"),
		Platform: awsecrassets.Platform_LINUX_AMD64(),
	})
}

// repoRoot is the repository's root directory, the Docker build context of
// the example server (it needs go.mod). It is found from this source file so
// that the app and the tests resolve it alike whatever their working
// directory.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}
