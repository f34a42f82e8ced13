// Package stacks holds Passthrough's example stacks, one per architecture of
// the design. Each is written the way a user would copy it into their own CDK
// app; [All] adds every one of them to an app, for the example app in
// examples/ and for the snapshot tests in test/.
package stacks

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecrassets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
)

// ImageContextKey is the CDK context key that replaces the example TLS
// server with another image: `cdk synth -c image=REPOSITORY:TAG`. The image
// must terminate TLS on ContainerPort 8443.
const ImageContextKey = "image"

// StackNameSuffixContextKey is the CDK context key that appends a suffix to
// every example stack's CloudFormation name, not to its construct ID:
// `cdk deploy PassthroughPrivateLinkProvider -c stackNameSuffix=-it1`
// deploys the stack PassthroughPrivateLinkProvider-it1. The deploy tests in
// test/integ use it so that runs in one account and Region do not collide;
// names derived from the stack name (alarm names, generated physical names)
// follow. The suffix must keep the name a valid stack name (letters, digits
// and hyphens, starting with a letter, at most 128 characters), which
// aws-cdk-lib checks at synth.
const StackNameSuffixContextKey = "stackNameSuffix"

// Names of the example stacks, as `cdk deploy` takes them.
const (
	PublicServicesFargateStack   = "PassthroughPublicServicesFargate"
	PublicServicesEC2Stack       = "PassthroughPublicServicesEC2"
	ServiceToServiceFargateStack = "PassthroughServiceToServiceFargate"
	ServiceToServiceEC2Stack     = "PassthroughServiceToServiceEC2"
	PublicAndInternalStack       = "PassthroughPublicAndInternalFargate"
	PrivateLinkProviderStack     = "PassthroughPrivateLinkProvider"
	PrivateLinkConsumerStack     = "PassthroughPrivateLinkConsumer"
	ACMCertificateStack          = "PassthroughACMCertificateFargate"
)

// Names lists every example stack, in the order All adds them.
var Names = []string{
	PublicServicesFargateStack,
	PublicServicesEC2Stack,
	ServiceToServiceFargateStack,
	ServiceToServiceEC2Stack,
	PublicAndInternalStack,
	PrivateLinkProviderStack,
	PrivateLinkConsumerStack,
	ACMCertificateStack,
}

// All adds every example stack to app. The stacks are environment-agnostic:
// synthesizing them needs no AWS account or credentials.
func All(app awscdk.App) []awscdk.Stack {
	var all []awscdk.Stack
	byName := map[string]awscdk.Stack{}
	for _, name := range Names {
		stack := New(app, name)
		byName[name] = stack
		all = append(all, stack)
	}
	// The consumer takes the provider's endpoint service name from context,
	// not by reference, so nothing else orders the two. An endpoint service
	// cannot be deleted while an endpoint is connected to it, even one
	// pending acceptance ("Before you can delete an endpoint service
	// configuration, you must reject any Available or PendingAcceptance
	// interface endpoint connections", Amazon EC2 API reference,
	// DeleteVpcEndpointServiceConfigurations): with the dependency,
	// `cdk destroy PassthroughPrivateLinkProvider` destroys the consumer
	// first (cdk destroy includes the stacks that depend on those named,
	// unless --exclusively), and `cdk deploy` deploys the provider first.
	byName[PrivateLinkConsumerStack].AddStackDependency(byName[PrivateLinkProviderStack],
		jsii.String("its interface endpoint connects to the provider's endpoint service, which cannot be deleted while connected"))
	return all
}

// New adds the example stack called name (one of Names) to app, or panics
// for an unknown name.
func New(app awscdk.App, name string) awscdk.Stack {
	suffix, _ := app.Node().TryGetContext(jsii.String(StackNameSuffixContextKey)).(string)
	describe := func(text string) awscdk.StackProps {
		props := awscdk.StackProps{Description: jsii.String(text)}
		if suffix != "" {
			props.StackName = jsii.String(name + suffix)
		}
		return props
	}
	switch name {
	case PublicServicesFargateStack, PublicServicesEC2Stack:
		ec2 := name == PublicServicesEC2Stack
		text := "Passthrough architecture 1 on Fargate: internet -> one NLB (TCP) -> three TLS services"
		if ec2 {
			text = "Passthrough architecture 1 on EC2: internet -> one NLB (TCP) -> three TLS services on dynamic host ports"
		}
		return NewPublicServicesStack(app, name, &PublicServicesStackProps{
			StackProps:    describe(text),
			Workload:      DefaultWorkload(app),
			WorkloadARM64: DefaultWorkloadARM64(app),
			EC2:           ec2,
		})
	case ServiceToServiceFargateStack, ServiceToServiceEC2Stack:
		ec2 := name == ServiceToServiceEC2Stack
		launch := "Fargate"
		if ec2 {
			launch = "EC2"
		}
		return NewServiceToServiceStack(app, name, &ServiceToServiceStackProps{
			StackProps: describe("Passthrough architecture 2 on " + launch + ": two clusters, each service calling the other through the other's internal NLB (TCP)"),
			Workload:   DefaultWorkload(app),
			EC2:        ec2,
		})
	case PublicAndInternalStack:
		return NewPublicAndInternalStack(app, name, &PublicAndInternalStackProps{
			StackProps: describe("Passthrough architecture 3 on Fargate: one internet-facing NLB (TCP), a public service and an internal one that the public one calls at the NLB's private addresses"),
			Workload:   DefaultWorkload(app),
		})
	case PrivateLinkProviderStack:
		return NewPrivateLinkProviderStack(app, name, &PrivateLinkProviderStackProps{
			StackProps: describe("Passthrough over PrivateLink, provider: an internal NLB (TCP) and a TLS service exposed as a VPC endpoint service"),
			Workload:   DefaultWorkload(app),
		})
	case PrivateLinkConsumerStack:
		return NewPrivateLinkConsumerStack(app, name, &PrivateLinkConsumerStackProps{
			StackProps: describe("Passthrough over PrivateLink, consumer: a TLS service calling the provider through an interface VPC endpoint"),
			Workload:   DefaultWorkload(app),
		})
	case ACMCertificateStack:
		return NewACMCertificateStack(app, name, &ACMCertificateStackProps{
			StackProps: describe("Passthrough architecture 1 with an exportable ACM certificate: ACM issues and renews it, a function exports it into the container's secret, each export rolls the service out"),
			Workload:   DefaultWorkload(app),
		})
	}
	panic("stacks: no example stack called " + name)
}

// Workload is the container the example services run.
type Workload struct {
	// Image of the container. It must terminate TLS on port 8443.
	Image awsecs.ContainerImage
	// HealthCheck is a container health check that knows the image, or nil.
	HealthCheck *awsecs.HealthCheck
	// User the container runs as, or nil for the image's own.
	User *string
}

// DefaultWorkload is the example TLS server in examples/tlsserver, built from
// source at deploy time for linux/amd64 (synthesis only stages its files and
// needs no Docker engine), with its TLS-aware health check. The "image"
// context value replaces it with another image, which gets no container
// health check: the command would not exist in it.
func DefaultWorkload(scope constructs.Construct) Workload {
	return exampleServer(scope, awsecrassets.Platform_LINUX_AMD64())
}

// DefaultWorkloadARM64 is DefaultWorkload built for linux/arm64 (Graviton).
// The platform is pinned on the asset, so an image built on a machine of the
// other architecture cannot end up on these tasks.
func DefaultWorkloadARM64(scope constructs.Construct) Workload {
	return exampleServer(scope, awsecrassets.Platform_LINUX_ARM64())
}

func exampleServer(scope constructs.Construct, platform awsecrassets.Platform) Workload {
	if name, ok := scope.Node().TryGetContext(jsii.String(ImageContextKey)).(string); ok && name != "" {
		return Workload{Image: awsecs.ContainerImage_FromRegistry(jsii.String(name), nil)}
	}
	return Workload{
		Image: awsecs.ContainerImage_FromAsset(jsii.String(repoRoot()), &awsecs.AssetImageProps{
			File:     jsii.String("examples/tlsserver/Dockerfile"),
			Platform: platform,
		}),
		HealthCheck: &awsecs.HealthCheck{
			Command:     jsii.Strings("CMD", "/tlsserver", "-healthcheck"),
			Interval:    awscdk.Duration_Seconds(jsii.Number(30)),
			Timeout:     awscdk.Duration_Seconds(jsii.Number(5)),
			Retries:     jsii.Number(3),
			StartPeriod: awscdk.Duration_Seconds(jsii.Number(10)),
		},
		// The distroless image's nonroot user, stated in the task definition.
		User: jsii.String("65532:65532"),
	}
}

// CertificateParameter is the CloudFormation parameter that names the
// Secrets Manager secret holding the example services' certificate. It has
// no default: synthesis needs no secret, and a deployment without one fails
// before CloudFormation creates anything, naming the parameter.
const CertificateParameter = "CertificateSecretArn"

// CertificateParameterPattern is the parameter's AllowedPattern: the
// complete ARN of a secret, ending in the hyphen and six random characters
// that Secrets Manager appends to the name. The tasks' execution role may
// read exactly the ARN given, so a partial ARN (without the suffix) would
// deploy, and every task would then fail to start, unable to read its
// certificate (ResourceInitializationError). Secret names are ASCII
// letters, digits and /_+=.@- (Secrets Manager, CreateSecret).
const CertificateParameterPattern = `^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$`

// certificateSecret declares the certificate parameter in stack and returns
// the secret it names.
func certificateSecret(stack awscdk.Stack) awssecretsmanager.ISecret {
	arn := awscdk.NewCfnParameter(stack, jsii.String(CertificateParameter), &awscdk.CfnParameterProps{
		Type: jsii.String("String"),
		Description: jsii.String("Complete ARN of the Secrets Manager secret with the services' TLS certificate: a JSON object with the PEM fields " +
			"certificate, privateKey and clientCA (examples/tlsserver -gen-cert writes one). Set it with " +
			"cdk deploy --parameters " + CertificateParameter + "=arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf"),
		AllowedPattern:        jsii.String(CertificateParameterPattern),
		ConstraintDescription: jsii.String("must be the complete ARN of a Secrets Manager secret, ending in the hyphen and 6 characters Secrets Manager appends to its name (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf, as aws secretsmanager describe-secret --query ARN prints it): the tasks may read exactly that ARN, and a partial one would leave them unable to read the certificate"),
	})
	awscdk.Validations_Of(stack).Acknowledge(&awscdk.Acknowledgment{
		Id:     jsii.String("CloudFormation-Validate::W2509"),
		Reason: jsii.String(CertificateParameter + " is the ARN of the secret, not the secret: an ARN is not confidential, and hiding it with NoEcho would only hide which secret a stack uses"),
	})
	return awssecretsmanager.Secret_FromSecretCompleteArn(stack, jsii.String("Certificate"), arn.ValueAsString())
}

// Shutdown budget of the example server. ECS sends SIGTERM after the target
// group's deregistration delay, and SIGKILL passthrough.DefaultStopTimeout
// seconds later; the server must be done before that, so its budget leaves
// a margin for the process to exit.
const shutdownTimeoutSeconds = passthrough.DefaultStopTimeout - 15

// tlsServerProps are the ServiceProps every example service shares: the
// workload, its certificate from the parameter's secret, its shutdown budget
// and its health check. SERVICE_NAME, the dimension of the certificate
// metric, is left to Passthrough's default (stack and path), which keeps
// the services of the same name in different example stacks apart.
func tlsServerProps(workload Workload, cert awssecretsmanager.ISecret, mutualTLS bool) passthrough.ServiceProps {
	var certificate *passthrough.Certificate
	if cert != nil {
		certificate = &passthrough.Certificate{Secret: cert}
		if mutualTLS {
			certificate.ClientCAField = jsii.String("clientCA")
		}
	}
	return passthrough.ServiceProps{
		Image:       workload.Image,
		Certificate: certificate,
		Environment: map[string]*string{
			"SHUTDOWN_TIMEOUT_SECONDS": jsii.String(fmt.Sprint(shutdownTimeoutSeconds)),
			// The server refuses to start unless its shutdown budget is
			// below the container's stop timeout, which it cannot read.
			"STOP_TIMEOUT_SECONDS": jsii.String(fmt.Sprint(passthrough.DefaultStopTimeout)),
		},
		ContainerHealthCheck: workload.HealthCheck,
		User:                 workload.User,
	}
}

// acknowledgePlainEnvironment records for cdk-nag (rule AwsSolutions-ECS2)
// why the example server's task definition has plain environment
// variables: they hold its name and shutdown budget, and the settings named
// in extra, nothing secret. Its certificate and key arrive as ECS secrets,
// and Passthrough refuses TLS_CERT, TLS_KEY and TLS_CLIENT_CA in plain
// environment. cdk-nag v2 reads the suppression from the template's
// metadata; cdk-nag v3, a policy-validation plugin, reads the validation
// acknowledgement, whose ID names the pack ("AwsSolutions::").
func acknowledgePlainEnvironment(s *passthrough.Service, extra ...string) {
	names := "SERVICE_NAME, SHUTDOWN_TIMEOUT_SECONDS and STOP_TIMEOUT_SECONDS"
	if len(extra) > 0 {
		names = "SERVICE_NAME, SHUTDOWN_TIMEOUT_SECONDS, STOP_TIMEOUT_SECONDS, " + strings.Join(extra, ", ")
	}
	suppressPlainEnvironment(s, "Plain environment holds only "+names+"; certificate and key arrive as ECS secrets from Secrets Manager")
}

// suppressPlainEnvironment suppresses AwsSolutions-ECS2 on the service's
// task definition for cdk-nag v2 and acknowledges it for v3.
func suppressPlainEnvironment(s *passthrough.Service, reason string) {
	cdknag.NagSuppressions_AddResourceSuppressions(s.TaskDefinition, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-ECS2"),
		Reason: jsii.String(reason),
	}}, jsii.Bool(false))
	awscdk.Validations_Of(s.TaskDefinition).Acknowledge(&awscdk.Acknowledgment{
		Id:     jsii.String("AwsSolutions::AwsSolutions-ECS2"),
		Reason: jsii.String(reason),
	})
}

// repoRoot is the repository's root directory, the Docker build context of
// the example server (its Dockerfile, and .dockerignore at the root, send
// only examples/tlsserver, a module of its own). It is found from this source file so
// that the app and the tests resolve it alike whatever their working
// directory.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}
