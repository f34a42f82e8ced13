package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// The JSON fields of the certificate secret, the ones the constructs
// deliver to the container (passthrough.DefaultCertificateField,
// DefaultPrivateKeyField), and the serial the reconcile compares.
const (
	fieldCertificate = "certificate"
	fieldPrivateKey  = "privateKey"
	fieldSerial      = "serial"
)

// acmAPI and secretsAPI are the calls the export makes; the tests give
// fakes that answer with recorded responses.
type acmAPI interface {
	DescribeCertificate(context.Context, *acm.DescribeCertificateInput, ...func(*acm.Options)) (*acm.DescribeCertificateOutput, error)
	ExportCertificate(context.Context, *acm.ExportCertificateInput, ...func(*acm.Options)) (*acm.ExportCertificateOutput, error)
}

type secretsAPI interface {
	GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	PutSecretValue(context.Context, *secretsmanager.PutSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
}

// exporter keeps one certificate secret equal to ACM's current certificate.
type exporter struct {
	acm     acmAPI
	secrets secretsAPI
	// certificateARN is the ACM certificate; certificateSecret the secret
	// the services read; passphraseSecret the secret whose value is the
	// passphrase the key is exported under.
	certificateARN, certificateSecret, passphraseSecret string
}

// outcome is what one reconcile did, logged and published as metrics.
type outcome struct {
	// Status is ACM's status of the certificate.
	Status string `json:"status"`
	// ACMSerial is the serial of ACM's current certificate; SecretSerial
	// the serial in the secret after this run.
	ACMSerial    string `json:"acm_serial,omitempty"`
	SecretSerial string `json:"secret_serial,omitempty"`
	// Exported tells that this run put a new secret version.
	Exported bool `json:"exported"`
	// InSync: the secret holds ACM's current certificate (or ACM has none
	// issued yet, so there is nothing to hold).
	InSync bool `json:"in_sync"`
}

// reconcile compares the serial in the secret with ACM's certificate and
// exports when they differ. It runs on ACM's "ACM Certificate Available"
// event and on a schedule alike: the event is best effort, the schedule
// catches what it misses, and both are safe to run at once (see put).
func (e *exporter) reconcile(ctx context.Context) (outcome, error) {
	var out outcome
	desc, err := e.acm.DescribeCertificate(ctx, &acm.DescribeCertificateInput{CertificateArn: &e.certificateARN})
	if err != nil {
		return out, fmt.Errorf("describing the certificate: %w", err)
	}
	c := desc.Certificate
	if c == nil {
		return out, errors.New("describing the certificate: empty answer")
	}
	out.Status = string(c.Status)
	out.ACMSerial = normalizeSerial(aws.ToString(c.Serial))

	current, err := e.secretSerial(ctx)
	if err != nil {
		return out, err
	}
	out.SecretSerial = current
	if c.Status != acmtypes.CertificateStatusIssued {
		// Pending validation (the first minutes after deployment), or
		// expired, revoked, failed: nothing to export. Only an issued
		// certificate that the secret lacks is out of sync.
		out.InSync = c.Status == acmtypes.CertificateStatusPendingValidation
		return out, nil
	}
	if out.ACMSerial != "" && current == out.ACMSerial {
		out.InSync = true
		return out, nil
	}

	serial, err := e.export(ctx)
	if err != nil {
		return out, err
	}
	out.Exported = true
	out.SecretSerial = serial
	// ACM may renew between the two calls; the export is what it holds now.
	out.ACMSerial = serial
	out.InSync = true
	return out, nil
}

// secretSerial is the serial in the certificate secret, or "" when the
// secret has no value yet or holds no serial (a placeholder).
func (e *exporter) secretSerial(ctx context.Context) (string, error) {
	fields, err := e.secretFields(ctx)
	if err != nil {
		return "", err
	}
	s, _ := fields[fieldSerial].(string)
	return normalizeSerial(s), nil
}

// secretFields is the certificate secret's JSON object: empty when the
// secret has no value yet or its value is not a JSON object.
func (e *exporter) secretFields(ctx context.Context) (map[string]any, error) {
	v, err := e.secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &e.certificateSecret})
	var notFound *smtypes.ResourceNotFoundException
	switch {
	case errors.As(err, &notFound):
		// A secret created without a value has no AWSCURRENT version.
		return map[string]any{}, nil
	case err != nil:
		return nil, fmt.Errorf("reading the certificate secret: %w", err)
	}
	var fields map[string]any
	if json.Unmarshal([]byte(aws.ToString(v.SecretString)), &fields) != nil || fields == nil {
		return map[string]any{}, nil
	}
	return fields, nil
}

// export exports the certificate under the passphrase and puts it in the
// certificate secret. Neither the passphrase nor the key leaves this
// function other than in the ExportCertificate request and the
// PutSecretValue request; errors name the step, never a value.
func (e *exporter) export(ctx context.Context) (string, error) {
	pass, err := e.secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &e.passphraseSecret})
	if err != nil {
		return "", fmt.Errorf("reading the passphrase secret: %w", err)
	}
	passphrase := aws.ToString(pass.SecretString)
	if passphrase == "" {
		return "", errors.New("the passphrase secret is empty")
	}
	exp, err := e.acm.ExportCertificate(ctx, &acm.ExportCertificateInput{
		CertificateArn: &e.certificateARN,
		Passphrase:     []byte(passphrase),
	})
	if err != nil {
		return "", fmt.Errorf("exporting the certificate: %w", err)
	}
	// The secret's other fields (a mutual TLS service's client CA bundle,
	// say) are the user's: every export keeps them.
	keep, err := e.secretFields(ctx)
	if err != nil {
		return "", err
	}
	value, serial, err := secretValue(aws.ToString(exp.Certificate), aws.ToString(exp.CertificateChain), aws.ToString(exp.PrivateKey), keep)
	if err != nil {
		return "", err
	}
	if err := e.put(ctx, value, serial); err != nil {
		return "", err
	}
	return serial, nil
}

// put writes the secret's new version. The version's token is derived from
// the serial: when the event and the schedule export the same certificate
// at once, the second put finds the first's version under that token and
// Secrets Manager refuses it (ResourceExistsException: the value differs,
// since every export encrypts the key with a new salt), which is success
// here; AWSCURRENT moves once, so the services roll once.
func (e *exporter) put(ctx context.Context, value, serial string) error {
	_, err := e.secrets.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:           &e.certificateSecret,
		SecretString:       &value,
		ClientRequestToken: aws.String(versionToken(serial)),
	})
	var exists *smtypes.ResourceExistsException
	if errors.As(err, &exists) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("putting the certificate secret: %w", err)
	}
	return nil
}

// versionToken is a secret version ID for serial: 64 hex characters, within
// the 32 to 64 that Secrets Manager accepts as ClientRequestToken.
func versionToken(serial string) string {
	sum := sha256.Sum256([]byte("passthrough-certexport\x00" + serial))
	return hex.EncodeToString(sum[:])
}

// secretValue checks what ExportCertificate returned and makes the secret's
// JSON: the fields of keep, and over them the leaf followed by the chain
// (the order a TLS server sends), the encrypted key, and the leaf's serial
// in ACM's notation.
func secretValue(certPEM, chainPEM, keyPEM string, keep map[string]any) (value, serial string, err error) {
	block, _ := pem.Decode([]byte(certPEM))
	if block == nil || block.Type != "CERTIFICATE" {
		return "", "", errors.New("the export holds no PEM certificate")
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return "", "", fmt.Errorf("the exported certificate does not parse: %w", err)
	}
	if k, _ := pem.Decode([]byte(keyPEM)); k == nil || k.Type != "ENCRYPTED PRIVATE KEY" {
		// Never the key itself in the message: only what it was not.
		return "", "", errors.New("the export holds no encrypted PKCS#8 private key (ENCRYPTED PRIVATE KEY)")
	}
	serial = colonHex(leaf.SerialNumber.Bytes())
	fields := make(map[string]any, len(keep)+3)
	for k, v := range keep {
		fields[k] = v
	}
	fields[fieldCertificate] = strings.TrimRight(certPEM, "\n") + "\n" + strings.TrimLeft(chainPEM, "\n")
	fields[fieldPrivateKey] = keyPEM
	fields[fieldSerial] = serial
	b, err := json.Marshal(fields)
	if err != nil {
		return "", "", err
	}
	return string(b), serial, nil
}

// colonHex writes b as ACM writes a serial: lower-case hex bytes joined by
// colons ("0a:1b:...").
func colonHex(b []byte) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = hex.EncodeToString([]byte{c})
	}
	return strings.Join(parts, ":")
}

// normalizeSerial makes two notations of one serial compare equal: case,
// and a leading zero byte that DER adds to a serial whose first bit is set
// and ACM may or may not show.
func normalizeSerial(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	for strings.HasPrefix(s, "00:") {
		s = s[3:]
	}
	return s
}

// metricLine is the reconcile's outcome as one CloudWatch embedded metric
// format record: OutOfSync (1 when the secret does not hold ACM's issued
// certificate after the run) and Exported, per certificate secret. The
// out-of-sync alarm reads it.
func metricLine(namespace, secretName string, o outcome, now time.Time) ([]byte, error) {
	b2i := func(b bool) int {
		if b {
			return 1
		}
		return 0
	}
	return json.Marshal(map[string]any{
		"_aws": map[string]any{
			"Timestamp": now.UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  namespace,
				"Dimensions": [][]string{{"CertificateSecret"}},
				"Metrics":    []any{map[string]string{"Name": "OutOfSync", "Unit": "Count"}, map[string]string{"Name": "Exported", "Unit": "Count"}},
			}},
		},
		"CertificateSecret": secretName,
		"OutOfSync":         b2i(!o.InSync),
		"Exported":          b2i(o.Exported),
		"status":            o.Status,
		"acm_serial":        o.ACMSerial,
		"secret_serial":     o.SecretSerial,
	})
}
