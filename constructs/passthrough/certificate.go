package passthrough

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/jsii-runtime-go"
)

// Environment variables that carry the certificate into the container. ECS
// resolves them from Secrets Manager when the container starts; they never
// appear in the template or the task definition's plain environment.
const (
	EnvCertificate = "TLS_CERT"
	EnvPrivateKey  = "TLS_KEY"
	EnvClientCA    = "TLS_CLIENT_CA"
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
	if c.ClientCAField != nil {
		s[EnvClientCA] = awsecs.Secret_FromSecretsManager(c.Secret, c.ClientCAField)
	}
	return s
}
