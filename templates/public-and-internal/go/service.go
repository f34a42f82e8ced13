package main

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
)

// CertificateParameter is the CloudFormation parameter that names the
// Secrets Manager secret holding the services' certificate. It has no
// default: synthesis needs no secret, and a deployment without one fails
// before CloudFormation creates anything, naming the parameter.
const CertificateParameter = "CertificateSecretArn"

// CertificateParameterPattern is the parameter's AllowedPattern: the
// complete ARN of a secret, ending in the hyphen and six random characters
// that Secrets Manager appends to the secret's name (CreateSecret's ARN,
// https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html).
// The tasks' execution role may read exactly the ARN given, so a partial
// ARN (without the suffix) would deploy, and every task would then fail to
// start, unable to read its certificate (ResourceInitializationError).
// Secret names are ASCII letters, digits and /_+=.@-.
const CertificateParameterPattern = `^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$`

// certificateSecret declares the certificate parameter in stack and returns
// the secret it names.
func certificateSecret(stack awscdk.Stack) awssecretsmanager.ISecret {
	arn := awscdk.NewCfnParameter(stack, jsii.String(CertificateParameter), &awscdk.CfnParameterProps{
		Type: jsii.String("String"),
		Description: jsii.String("Complete ARN of the Secrets Manager secret with the services' TLS certificate: a JSON object with the PEM fields " +
			"certificate, privateKey and clientCA. Set it with " +
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

// Shutdown budget of the container. ECS sends SIGTERM after the target
// group's deregistration delay, and SIGKILL passthrough.DefaultStopTimeout
// seconds later; the server must be done before that, so its budget leaves
// a margin for the process to exit. Give your server this budget, or drop
// the variable if it has its own.
const shutdownTimeoutSeconds = passthrough.DefaultStopTimeout - 15

// tlsServerProps are the ServiceProps every service shares: the image, its
// certificate from the parameter's secret (with the client CA for mutual
// TLS) and its shutdown budget in its environment. With a nil cert the
// props have no Certificate, and the caller sets one of its own (an ACM
// certificate's: passthrough.NewExportedCertificate(...).Certificate()),
// client CA field included. SERVICE_NAME, which names the service in its
// certificate expiry metric, is left to Passthrough's default, the stack's
// name and the service's path ("Payments/Api"): services of the same name
// in different stacks stay apart. A container health check that knows the
// image belongs here too (ServiceProps.ContainerHealthCheck), and the user
// it runs as (ServiceProps.User).
func tlsServerProps(image awsecs.ContainerImage, cert awssecretsmanager.ISecret, mutualTLS bool) passthrough.ServiceProps {
	var certificate *passthrough.Certificate
	if cert != nil {
		certificate = &passthrough.Certificate{Secret: cert}
		if mutualTLS {
			certificate.ClientCAField = jsii.String("clientCA")
		}
	}
	return passthrough.ServiceProps{
		Image:       image,
		Certificate: certificate,
		Environment: map[string]*string{
			"SHUTDOWN_TIMEOUT_SECONDS": jsii.String(fmt.Sprint(shutdownTimeoutSeconds)),
			// A server cannot read its container's stop timeout; given it,
			// it can refuse to start with a shutdown budget that does not
			// fit (Passthrough's example server does).
			"STOP_TIMEOUT_SECONDS": jsii.String(fmt.Sprint(passthrough.DefaultStopTimeout)),
		},
	}
}

// acknowledgeEnvironment records for cdk-nag (rule AwsSolutions-ECS2) why
// a service's task definition has plain environment variables: its name,
// its shutdown budget and stop timeout, and the settings named in settings
// (PROXY_PROTOCOL); nothing secret. Its certificate and key arrive as ECS
// secrets, and Passthrough refuses TLS_CERT, TLS_KEY and TLS_CLIENT_CA in
// plain environment.
func acknowledgeEnvironment(s *passthrough.Service, settings ...string) {
	names := "SERVICE_NAME, SHUTDOWN_TIMEOUT_SECONDS and STOP_TIMEOUT_SECONDS"
	if len(settings) > 0 {
		names = "SERVICE_NAME, SHUTDOWN_TIMEOUT_SECONDS, STOP_TIMEOUT_SECONDS, " + strings.Join(settings, ", ")
	}
	suppressPlainEnvironment(s, "Plain environment holds only "+names+"; certificate and key arrive as ECS secrets from Secrets Manager")
}

// acknowledgeAddressEnvironment is acknowledgeEnvironment for a service that
// calls others: its plain environment also holds the HOST:PORT of the
// services it calls, in the variables that GrantConnect writes (named in
// addresses).
func acknowledgeAddressEnvironment(s *passthrough.Service, addresses ...string) {
	suppressPlainEnvironment(s, "Plain environment holds only SERVICE_NAME, SHUTDOWN_TIMEOUT_SECONDS, STOP_TIMEOUT_SECONDS and the HOST:PORT of the services it calls ("+
		strings.Join(addresses, ", ")+"); certificate and key arrive as ECS secrets from Secrets Manager")
}

// suppressPlainEnvironment suppresses AwsSolutions-ECS2 on the service's
// task definition for cdk-nag v2, which reads the suppression from the
// template's metadata, and acknowledges it for cdk-nag v3, a
// policy-validation plugin that reads the validation acknowledgement, whose
// ID names the pack ("AwsSolutions::").
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

// complyStrictly turns on, for the whole stack, the controls that AWS
// Control Tower checks and that have a cost or an operational trade-off
// (KMS-encrypted logs kept a year, alarm actions, a second instance type,
// a non-root user; Passthrough's docs/compliance.md). Alarms without a
// topic of their own go to topic, or, when it is nil, to a topic the aspect
// creates. Deletion protection stays off, and the key of the logs goes with
// the stack, so that the app can be destroyed after trying it: in
// production, drop DeletionProtection and KeyRemovalPolicy to keep the
// defaults (protection on, key retained with the logs).
func complyStrictly(stack awscdk.Stack, topic awssns.ITopic) {
	awscdk.Aspects_Of(stack).Add(passthrough.NewStrictCompliance(&passthrough.StrictComplianceProps{
		AlarmTopic:         topic,
		DeletionProtection: jsii.Bool(false),
		KeyRemovalPolicy:   awscdk.RemovalPolicy_DESTROY,
	}), nil)
}
