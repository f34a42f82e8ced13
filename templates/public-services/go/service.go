package main

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
)

// CertificateParameter is the CloudFormation parameter that names the
// Secrets Manager secret holding the services' certificate. It has no
// default: synthesis needs no secret, and a deployment without one fails
// before CloudFormation creates anything, naming the parameter.
const CertificateParameter = "CertificateSecretArn"

// certificateSecret declares the certificate parameter in stack and returns
// the secret it names.
func certificateSecret(stack awscdk.Stack) awssecretsmanager.ISecret {
	arn := awscdk.NewCfnParameter(stack, jsii.String(CertificateParameter), &awscdk.CfnParameterProps{
		Type: jsii.String("String"),
		Description: jsii.String("ARN of the Secrets Manager secret with the services' TLS certificate: a JSON object with the PEM fields " +
			"certificate, privateKey and clientCA. Set it with " +
			"cdk deploy --parameters " + CertificateParameter + "=arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME"),
		AllowedPattern:        jsii.String(`^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$`),
		ConstraintDescription: jsii.String("must be the full ARN of a Secrets Manager secret (cdk deploy --parameters " + CertificateParameter + "=arn:...)"),
	})
	awscdk.Validations_Of(stack).Acknowledge(&awscdk.Acknowledgment{
		Id:     jsii.String("CloudFormation-Validate::W2509"),
		Reason: jsii.String(CertificateParameter + " is the ARN of the secret, not the secret: an ARN is not confidential, and hiding it with NoEcho would only hide which secret a stack uses"),
	})
	return awssecretsmanager.Secret_FromSecretCompleteArn(stack, jsii.String("Certificate"), arn.ValueAsString())
}

// Shutdown budget of the container. ECS sends SIGTERM after the target
// group's deregistration delay, and SIGKILL passthrough.DefaultStopTimeout
// seconds later; the server must be done before that, so its budget leaves
// a margin for the process to exit. Give your server this budget, or drop
// the variable if it has its own.
const shutdownTimeoutSeconds = passthrough.DefaultStopTimeout - 15

// tlsServerProps are the ServiceProps every service shares: the image, its
// certificate from the parameter's secret (with the client CA for mutual
// TLS) and its name and shutdown budget in its environment. A container
// health check that knows the image belongs here too
// (ServiceProps.ContainerHealthCheck), and the user it runs as
// (ServiceProps.User).
func tlsServerProps(name string, image awsecs.ContainerImage, cert awssecretsmanager.ISecret, mutualTLS bool) passthrough.ServiceProps {
	certificate := &passthrough.Certificate{Secret: cert}
	if mutualTLS {
		certificate.ClientCAField = jsii.String("clientCA")
	}
	return passthrough.ServiceProps{
		Image:       image,
		Certificate: certificate,
		Environment: map[string]*string{
			"SERVICE_NAME":             jsii.String(name),
			"SHUTDOWN_TIMEOUT_SECONDS": jsii.String(fmt.Sprint(shutdownTimeoutSeconds)),
		},
	}
}

// acknowledgeEnvironment records for cdk-nag (rule AwsSolutions-ECS2) why
// a service's task definition has plain environment variables: its name,
// its shutdown budget and the HOST:PORT of the services it calls (the
// variables that GrantConnect writes, named in addresses); nothing secret.
// Its certificate and key arrive as ECS secrets, and Passthrough refuses
// TLS_CERT, TLS_KEY and TLS_CLIENT_CA in plain environment.
func acknowledgeEnvironment(s *passthrough.Service, addresses ...string) {
	reason := "Plain environment holds only SERVICE_NAME and SHUTDOWN_TIMEOUT_SECONDS; certificate and key arrive as ECS secrets from Secrets Manager"
	if len(addresses) > 0 {
		reason = "Plain environment holds only SERVICE_NAME, SHUTDOWN_TIMEOUT_SECONDS and the HOST:PORT of the services it calls (" +
			strings.Join(addresses, ", ") + "); certificate and key arrive as ECS secrets from Secrets Manager"
	}
	cdknag.NagSuppressions_AddResourceSuppressions(s.TaskDefinition, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-ECS2"),
		Reason: jsii.String(reason),
	}}, jsii.Bool(false))
}
