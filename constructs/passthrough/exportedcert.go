package passthrough

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// An exportable public certificate from AWS Certificate Manager, kept in
// the secret a service's container reads. Since 2025-06-17 ACM issues
// publicly trusted certificates that can be exported (CloudFormation
// CertificateExport ENABLED, aws-cdk-lib's AllowExport), renews them, and
// hands out certificate, chain and a private key encrypted under a
// passphrase the caller supplies (ACM API reference, ExportCertificate).
// A renewed certificate must be exported again; ACM announces it with
// "ACM Certificate Available", delivered best effort (EventBridge events
// reference, AWS Certificate Manager events), so a schedule reconciles as
// well. The function functions/certexport does the export: the key and
// its passphrase must appear in no template, task definition, log or state
// machine history, which rules out an SDK-integration-only design (a Task
// state's output, the key, would be in the execution history).
//
//	ACM ── "ACM Certificate Available" ──┐
//	schedule (ReconcileInterval) ────────┴─▶ certexport ── ExportCertificate(passphrase secret)
//	   ── PutSecretValue ──▶ certificate secret ── AWSCURRENT ──▶ CertificateRollout ──▶ services
//
// Costs: ACM charges for an exportable public certificate when it is
// issued and again at each renewal, per fully qualified domain name (US$15)
// or wildcard name (US$149) in the AWS price list for ACM (2025-02-01
// effective; aws.amazon.com/certificate-manager/pricing); aws-cdk-lib's
// AllowExport documents the same two charges.

// DefaultReconcileInterval is how often certexport compares the secret
// with ACM's certificate, in seconds: hourly, so a missed event costs at
// most an hour of a renewal window that ACM opens weeks before expiry.
const DefaultReconcileInterval = 3600

// ExportedCertificateProps configures [NewExportedCertificate].
type ExportedCertificateProps struct {
	// DomainName of the certificate. Required.
	DomainName *string
	// SubjectAlternativeNames of the certificate. Each name is charged.
	// Default: none.
	SubjectAlternativeNames *[]*string
	// HostedZone in which ACM's DNS validation records are created, and
	// kept for renewals. Required.
	HostedZone awsroute53.IHostedZone
	// KeyAlgorithm of the certificate's key.
	// Default: RSA 2048, aws-cdk-lib's default.
	KeyAlgorithm awscertificatemanager.KeyAlgorithm
	// ReconcileInterval between two comparisons of the secret's serial with
	// ACM's current certificate.
	// Default: 1 hour.
	ReconcileInterval awscdk.Duration
	// Topic receives the export alarms.
	// Default: none; the alarms change state in CloudWatch only.
	Topic awssns.ITopic
}

// ExportedCertificate is an exportable ACM certificate exported into a
// Secrets Manager secret in the form [Certificate] delivers to a container.
type ExportedCertificate struct {
	constructs.Construct
	// ACM is the certificate.
	ACM awscertificatemanager.Certificate
	// Secret holds the JSON the container reads: certificate (leaf and
	// chain), privateKey (encrypted PKCS#8) and serial.
	Secret awssecretsmanager.Secret
	// Passphrase holds the passphrase the key is exported under, generated
	// by Secrets Manager when it is created.
	Passphrase awssecretsmanager.Secret
	// Function exports the certificate.
	Function awslambda.Function
	// InitialExport runs Function once during deployment, so that the
	// secret holds the certificate before a service that reads it starts.
	InitialExport awscdk.CustomResource
	// ExportFailedAlarm fires when an export fails; OutOfSyncAlarm when
	// the secret has not held ACM's issued certificate for three
	// consecutive reconciles.
	ExportFailedAlarm, OutOfSyncAlarm awscloudwatch.Alarm
}

// NewExportedCertificate requests the certificate, creates the two secrets
// and the export function with its event rule and schedule. Give
// Certificate() to the services that serve it.
func NewExportedCertificate(scope constructs.Construct, id *string, props *ExportedCertificateProps) *ExportedCertificate {
	e := &ExportedCertificate{}
	constructs.NewConstruct_Override(e, scope, id)
	if props == nil {
		props = &ExportedCertificateProps{}
	}
	v := &validator{scope: e}
	v.required("DomainName", props.DomainName != nil && *props.DomainName != "")
	v.required("HostedZone", props.HostedZone != nil)
	v.seconds("ReconcileInterval", props.ReconcileInterval, 60, 86400)
	v.check()
	stack := awscdk.Stack_Of(e)
	path := *e.Node().Path()

	e.ACM = awscertificatemanager.NewCertificate(e, jsii.String("Certificate"), &awscertificatemanager.CertificateProps{
		DomainName:              props.DomainName,
		SubjectAlternativeNames: props.SubjectAlternativeNames,
		Validation:              awscertificatemanager.CertificateValidation_FromDns(props.HostedZone),
		KeyAlgorithm:            props.KeyAlgorithm,
		AllowExport:             jsii.Bool(true),
	})
	// ACM accepts "any ASCII character except #, $, or %" in a passphrase
	// (ExportCertificate); letters and digits are that and survive any
	// quoting.
	e.Passphrase = awssecretsmanager.NewSecret(e, jsii.String("Passphrase"), &awssecretsmanager.SecretProps{
		Description: jsii.String(fmt.Sprintf("Passphrase of the private key that %s exports from ACM", path)),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			ExcludePunctuation: jsii.Bool(true),
			PasswordLength:     jsii.Number(40),
		},
	})
	// Its first value is a placeholder without the fields; the initial
	// export replaces it before any service starts.
	e.Secret = awssecretsmanager.NewSecret(e, jsii.String("Secret"), &awssecretsmanager.SecretProps{
		Description: jsii.String(fmt.Sprintf("Certificate, chain and encrypted key of %s, exported from ACM by its function", path)),
	})
	suppressNag(e.Secret, nagSuppression{id: "AwsSolutions-SMG4", reason: "ACM renews the certificate and the export function puts each renewal; a Secrets Manager rotation function has nothing to rotate"})
	suppressNag(e.Passphrase, nagSuppression{id: "AwsSolutions-SMG4", reason: "The passphrase protects the exported key at rest beside the secret's own KMS encryption; changing it means exporting again, which ACM charges nothing for but the services would roll for nothing"})

	logs := awslogs.NewLogGroup(e, jsii.String("Logs"), &awslogs.LogGroupProps{Retention: defaultLogRetention})
	// Exactly what the export does: read the certificate's state and
	// export it, read the passphrase, read and write the certificate
	// secret, write its own log group; no AWS managed policy.
	role := awsiam.NewRole(e, jsii.String("FunctionRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String(fmt.Sprintf("Passthrough certificate export of %s: exports one ACM certificate into one secret", path)),
	})
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("acm:DescribeCertificate", "acm:ExportCertificate"),
		Resources: &[]*string{e.ACM.CertificateArn()},
	}))
	e.Passphrase.GrantRead(role, nil)
	e.Secret.GrantRead(role, nil)
	// PutSecretValue alone: aws-cdk-lib's GrantWrite would add
	// UpdateSecret and UpdateSecretVersionStage, which the export never
	// calls.
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("secretsmanager:PutSecretValue"),
		Resources: &[]*string{e.Secret.SecretArn()},
	}))
	logs.GrantWrite(role)
	e.Function = newGoFunction(e, "Function", "ExportedCertificate", "certexport", &awslambda.FunctionProps{
		Description: jsii.String(fmt.Sprintf("Exports %s from ACM into its secret when the serial differs", path)),
		Timeout:     awscdk.Duration_Minutes(jsii.Number(1)),
		MemorySize:  jsii.Number(128),
		// One export at a time; the event and the schedule may still
		// overlap, which the function's version token makes harmless.
		ReservedConcurrentExecutions: jsii.Number(1),
		Role:                         role,
		LogGroup:                     logs,
		Environment: &map[string]*string{
			"CERTIFICATE_ARN":        e.ACM.CertificateArn(),
			"CERTIFICATE_SECRET_ARN": e.Secret.SecretArn(),
			"PASSPHRASE_SECRET_ARN":  e.Passphrase.SecretArn(),
			"METRIC_NAMESPACE":       jsii.String(CertificateMetricNamespace),
		},
	})

	rule := awsevents.NewRule(e, jsii.String("AvailableRule"), &awsevents.RuleProps{
		Description: jsii.String(fmt.Sprintf("ACM issued or renewed the certificate of %s: export it", path)),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings("aws.acm"),
			DetailType: jsii.Strings("ACM Certificate Available"),
			Resources:  &[]*string{e.ACM.CertificateArn()},
		},
	})
	rule.AddTarget(awseventstargets.NewLambdaFunction(e.Function, nil))
	schedule := awsevents.NewRule(e, jsii.String("ReconcileSchedule"), &awsevents.RuleProps{
		Description: jsii.String(fmt.Sprintf("Compare the secret of %s with ACM's certificate", path)),
		Schedule:    awsevents.Schedule_Rate(durationOr(props.ReconcileInterval, DefaultReconcileInterval)),
	})
	schedule.AddTarget(awseventstargets.NewLambdaFunction(e.Function, nil))

	// A custom resource whose service token is the function itself: the
	// services wait for it, and CloudFormation for the function's answer
	// (functions/certexport/cfn.go), so no service starts before its
	// secret holds the certificate. A new certificate (its ARN) exports
	// again.
	e.InitialExport = awscdk.NewCustomResource(e, jsii.String("InitialExport"), &awscdk.CustomResourceProps{
		ServiceToken: e.Function.FunctionArn(),
		ResourceType: jsii.String("Custom::PassthroughCertificateExport"),
		Properties:   &map[string]any{"CertificateArn": e.ACM.CertificateArn()},
	})
	e.InitialExport.Node().AddDependency(role, e.Secret, e.Passphrase)

	name := func(what string) *string { return jsii.String(alarmName(stack, path, what)) }
	e.ExportFailedAlarm = awscloudwatch.NewAlarm(e, jsii.String("ExportFailedAlarm"), &awscloudwatch.AlarmProps{
		AlarmName:          name("certificate-export-failed"),
		AlarmDescription:   jsii.String(fmt.Sprintf("Exporting the ACM certificate of %s into its secret failed. Read the function's log; the services keep the certificate they have.", path)),
		Metric:             e.Function.MetricErrors(&awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: seconds(300)}),
		Threshold:          jsii.Number(0),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		EvaluationPeriods:  jsii.Number(1),
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	e.OutOfSyncAlarm = awscloudwatch.NewAlarm(e, jsii.String("OutOfSyncAlarm"), &awscloudwatch.AlarmProps{
		AlarmName:        name("certificate-out-of-sync"),
		AlarmDescription: jsii.String(fmt.Sprintf("The secret of %s has not held ACM's issued certificate for three reconciles in a row. Read the function's log.", path)),
		Metric: awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace:     jsii.String(CertificateMetricNamespace),
			MetricName:    jsii.String("OutOfSync"),
			DimensionsMap: &map[string]*string{"CertificateSecret": e.Secret.SecretArn()},
			Statistic:     jsii.String("Minimum"),
			Period:        durationOr(props.ReconcileInterval, DefaultReconcileInterval),
		}),
		Threshold:          jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		EvaluationPeriods:  jsii.Number(3),
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	if props.Topic != nil {
		notifyTopic(e.ExportFailedAlarm, props.Topic)
		notifyTopic(e.OutOfSyncAlarm, props.Topic)
		admitAlarms(stack, *stack.StackName(), props.Topic)
	}
	return e
}

// Certificate is the [Certificate] that delivers the exported certificate
// to a service's container, with the passphrase as TLS_KEY_PASSPHRASE and
// RollOut on: each export rolls the services out. Services that take it
// start only after the initial export.
func (e *ExportedCertificate) Certificate() *Certificate {
	return &Certificate{Secret: e.Secret, KeyPassphrase: e.Passphrase, RollOut: jsii.Bool(true), ready: e.InitialExport}
}
