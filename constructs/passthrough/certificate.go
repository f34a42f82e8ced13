package passthrough

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Environment variables that carry the certificate into the container. ECS
// resolves them from Secrets Manager when the container starts; they never
// appear in the template or the task definition's plain environment.
const (
	EnvCertificate = "TLS_CERT"
	EnvPrivateKey  = "TLS_KEY"
	EnvClientCA    = "TLS_CLIENT_CA"
	// EnvKeyPassphrase carries the passphrase of an encrypted private key.
	EnvKeyPassphrase = "TLS_KEY_PASSPHRASE"
)

// Default JSON fields of a certificate secret.
const (
	DefaultCertificateField = "certificate"
	DefaultPrivateKeyField  = "privateKey"
)

// Certificate is the TLS certificate a service's container terminates TLS
// with, kept in one AWS Secrets Manager secret that holds a JSON object with
// the PEM certificate chain, the PEM private key and, for mutual TLS, the PEM
// bundle of client CAs. One secret, so that certificate and key always change
// together: a task that starts between two separate updates would otherwise
// load a key that does not match its certificate.
type Certificate struct {
	// Secret holding the JSON object. Required.
	Secret awssecretsmanager.ISecret
	// CertificateField is the JSON field with the PEM certificate chain,
	// leaf first.
	// Default: "certificate".
	CertificateField *string
	// PrivateKeyField is the JSON field with the PEM private key.
	// Default: "privateKey".
	PrivateKeyField *string
	// ClientCAField is the JSON field with the PEM bundle of certificate
	// authorities that client certificates must chain to. Setting it turns
	// on mutual TLS in the example server (TLS_CLIENT_CA is set).
	// Default: none; no client certificate is asked for.
	ClientCAField *string
	// EncryptionKey is the customer managed KMS key the secret is encrypted
	// with, if it is not Secrets Manager's AWS managed key and the secret
	// does not already name it. The task's execution role may decrypt with
	// it.
	// Default: the secret's own encryption key, if any.
	EncryptionKey awskms.IKey
	// KeyPassphrase is a secret whose whole value is the passphrase of an
	// encrypted PKCS#8 private key in PrivateKeyField, delivered as
	// TLS_KEY_PASSPHRASE: the form AWS Certificate Manager exports keys in
	// (see NewExportedCertificate). A secret of its own, so that the
	// encrypted key and its passphrase are never read together by
	// accident.
	// Default: none; the private key is not encrypted.
	KeyPassphrase awssecretsmanager.ISecret
	// RollOut starts a new deployment of the service whenever the secret
	// gets a new AWSCURRENT value (a put, or a Secrets Manager rotation),
	// and reports the deployment's completion to the alarm topic; a
	// certificate that does not load is rolled back by the circuit breaker
	// and the deployment alarm, and the old tasks keep serving. Off by
	// default because it only works for a secret in the service's own
	// account and Region (Secrets Manager sends its events there), which
	// Passthrough cannot tell from an ARN given as a parameter: on, it
	// asserts that, and a rule that could never fire would otherwise pass
	// for a safety net. It also starts deployments outside CloudFormation,
	// which an app upgrading Passthrough should choose. The secret must be
	// given by its complete ARN, which the event names.
	// Default: false; put the new value, then run
	// aws ecs update-service --force-new-deployment.
	RollOut *bool

	// ready is what a service must wait for before its tasks can read the
	// secret (an ExportedCertificate's initial export); nil for a secret
	// that already holds its value.
	ready constructs.IDependable
}

func (c *Certificate) validate(v *validator) {
	if c == nil {
		return
	}
	v.required("Certificate.Secret", c.Secret != nil)
	for prop, field := range map[string]*string{
		"Certificate.CertificateField": c.CertificateField,
		"Certificate.PrivateKeyField":  c.PrivateKeyField,
		"Certificate.ClientCAField":    c.ClientCAField,
	} {
		if field != nil && *field == "" {
			v.fail(prop, `""`, "is empty; name the JSON field of the secret, or leave it nil for the default")
		}
	}
	if valueOr(c.RollOut, false) && c.Secret != nil && c.Secret.SecretFullArn() == nil {
		v.fail("Certificate.RollOut", "true", "needs the secret's complete ARN, which its events carry; import it with Secret_FromSecretCompleteArn, not by name or partial ARN")
	}
}

// secrets are the container secrets that deliver the certificate. ECS grants
// the task's execution role read access to exactly this secret when the
// container definition references it.
func (c *Certificate) secrets() map[string]awsecs.Secret {
	field := func(f *string, d string) *string {
		if f == nil {
			return jsii.String(d)
		}
		return f
	}
	s := map[string]awsecs.Secret{
		EnvCertificate: awsecs.Secret_FromSecretsManager(c.Secret, field(c.CertificateField, DefaultCertificateField)),
		EnvPrivateKey:  awsecs.Secret_FromSecretsManager(c.Secret, field(c.PrivateKeyField, DefaultPrivateKeyField)),
	}
	if c.KeyPassphrase != nil {
		s[EnvKeyPassphrase] = awsecs.Secret_FromSecretsManager(c.KeyPassphrase, nil)
	}
	if c.ClientCAField != nil {
		s[EnvClientCA] = awsecs.Secret_FromSecretsManager(c.Secret, c.ClientCAField)
	}
	return s
}
