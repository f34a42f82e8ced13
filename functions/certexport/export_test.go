package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

const (
	certARN       = "arn:aws:acm:eu-west-1:111122223333:certificate/12345678-1234-1234-1234-123456789012"
	secretARN     = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:passthrough/api/certificate-AbCdEf"
	passphraseARN = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:passthrough/api/passphrase-GhIjKl"
	passphrase    = "Zq8tY2vKm4Lp9Rx3Wn6Bc1Hd5Jf7Gs0a"
	// encryptedKey stands in for ACM's encrypted key: the function checks
	// its PEM type and passes it on, never decrypts it.
	encryptedKey = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nTUlJRkhEQk9CZ2txaGtpRzl3MEJCUTB3UVRBcEJna3Foa2lHOXcwQkJRd3dIQVFJ\n-----END ENCRYPTED PRIVATE KEY-----\n"
	chainPEM     = "-----BEGIN CERTIFICATE-----\nY2hhaW4=\n-----END CERTIFICATE-----\n"
)

// leafPEM is a certificate with the given serial, as ACM's export would
// return it.
func leafPEM(t *testing.T, serial int64) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "api.example.com"},
		DNSNames:     []string{"api.example.com"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(395 * 24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// fakeACM answers like ACM: DescribeCertificate's Certificate.Status and
// Serial (colon-separated lower-case hex bytes, as in the ACM API
// reference's DescribeCertificate example), ExportCertificate's three PEMs.
type fakeACM struct {
	status    acmtypes.CertificateStatus
	serial    string
	export    *acm.ExportCertificateOutput
	exportErr error

	exports     int
	passphrases []string
}

func (f *fakeACM) DescribeCertificate(_ context.Context, in *acm.DescribeCertificateInput, _ ...func(*acm.Options)) (*acm.DescribeCertificateOutput, error) {
	if aws.ToString(in.CertificateArn) != certARN {
		return nil, &acmtypes.ResourceNotFoundException{Message: aws.String("no such certificate")}
	}
	c := &acmtypes.CertificateDetail{CertificateArn: in.CertificateArn, Status: f.status}
	if f.serial != "" {
		c.Serial = aws.String(f.serial)
	}
	return &acm.DescribeCertificateOutput{Certificate: c}, nil
}

func (f *fakeACM) ExportCertificate(_ context.Context, in *acm.ExportCertificateInput, _ ...func(*acm.Options)) (*acm.ExportCertificateOutput, error) {
	f.exports++
	f.passphrases = append(f.passphrases, string(in.Passphrase))
	if f.exportErr != nil {
		return nil, f.exportErr
	}
	return f.export, nil
}

// fakeSecrets is Secrets Manager with one version per secret and
// ClientRequestToken idempotency: a second put with a known token and
// another value is refused with ResourceExistsException.
type fakeSecrets struct {
	values map[string]string
	tokens map[string]string // token -> value
	puts   []secretsmanager.PutSecretValueInput
}

func (f *fakeSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	v, ok := f.values[aws.ToString(in.SecretId)]
	if !ok {
		return nil, &smtypes.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret value for staging label: AWSCURRENT")}
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(v)}, nil
}

func (f *fakeSecrets) PutSecretValue(_ context.Context, in *secretsmanager.PutSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	f.puts = append(f.puts, *in)
	tok := aws.ToString(in.ClientRequestToken)
	if old, seen := f.tokens[tok]; seen && old != aws.ToString(in.SecretString) {
		return nil, &smtypes.ResourceExistsException{Message: aws.String("You can't modify an existing version, you can only create a new version.")}
	}
	if f.tokens == nil {
		f.tokens = map[string]string{}
	}
	f.tokens[tok] = aws.ToString(in.SecretString)
	f.values[aws.ToString(in.SecretId)] = aws.ToString(in.SecretString)
	return &secretsmanager.PutSecretValueOutput{}, nil
}

func newExporter(a *fakeACM, s *fakeSecrets) *exporter {
	return &exporter{acm: a, secrets: s, certificateARN: certARN, certificateSecret: secretARN, passphraseSecret: passphraseARN}
}

func issued(t *testing.T, serial int64) *fakeACM {
	leaf := leafPEM(t, serial)
	block, _ := pem.Decode([]byte(leaf))
	c, _ := x509.ParseCertificate(block.Bytes)
	return &fakeACM{
		status: acmtypes.CertificateStatusIssued,
		serial: colonHex(c.SerialNumber.Bytes()),
		export: &acm.ExportCertificateOutput{Certificate: aws.String(leaf), CertificateChain: aws.String(chainPEM), PrivateKey: aws.String(encryptedKey)},
	}
}

func TestFirstIssuedCertificateIsExportedWithThePassphraseIntoTheSecret(t *testing.T) {
	a := issued(t, 0x0a1b2c)
	s := &fakeSecrets{values: map[string]string{passphraseARN: passphrase}} // certificate secret: no value yet
	out, err := newExporter(a, s).reconcile(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !out.Exported || !out.InSync || out.SecretSerial != "0a:1b:2c" {
		t.Errorf("outcome %+v", out)
	}
	if len(a.passphrases) != 1 || a.passphrases[0] != passphrase {
		t.Errorf("exported with passphrases %q, want the passphrase secret's value", a.passphrases)
	}
	if len(s.puts) != 1 || aws.ToString(s.puts[0].SecretId) != secretARN {
		t.Fatalf("puts %+v", s.puts)
	}
	var fields map[string]string
	if err := json.Unmarshal([]byte(s.values[secretARN]), &fields); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(fields["certificate"], "-----BEGIN CERTIFICATE-----") || !strings.HasSuffix(fields["certificate"], chainPEM) ||
		strings.Count(fields["certificate"], "BEGIN CERTIFICATE") != 2 {
		t.Errorf("certificate field is not leaf then chain:\n%s", fields["certificate"])
	}
	if fields["privateKey"] != encryptedKey || fields["serial"] != "0a:1b:2c" {
		t.Errorf("fields %v", fields)
	}
	if _, has := fields["passphrase"]; has {
		t.Error("the passphrase is stored beside the key it encrypts")
	}
	if tok := aws.ToString(s.puts[0].ClientRequestToken); len(tok) < 32 || len(tok) > 64 {
		t.Errorf("ClientRequestToken %q: Secrets Manager takes 32 to 64 characters", tok)
	}
}

func TestSecretWithACMsSerialIsLeftAlone(t *testing.T) {
	a := issued(t, 0x0a1b2c)
	s := &fakeSecrets{values: map[string]string{
		passphraseARN: passphrase,
		// ACM's notation may differ in case and in a leading zero byte.
		secretARN: `{"certificate":"x","privateKey":"y","serial":"00:0A:1B:2C"}`,
	}}
	out, err := newExporter(a, s).reconcile(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if a.exports != 0 || len(s.puts) != 0 || !out.InSync || out.Exported {
		t.Errorf("exports %d, puts %d, outcome %+v; want nothing done", a.exports, len(s.puts), out)
	}
}

func TestRenewedCertificateReplacesTheOldOne(t *testing.T) {
	a := issued(t, 0x77)
	s := &fakeSecrets{values: map[string]string{passphraseARN: passphrase, secretARN: `{"serial":"0a:1b:2c"}`}}
	out, err := newExporter(a, s).reconcile(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !out.Exported || out.SecretSerial != "77" {
		t.Errorf("outcome %+v", out)
	}
	// Run again, as the schedule does: nothing more happens.
	if _, err := newExporter(a, s).reconcile(context.Background()); err != nil || a.exports != 1 {
		t.Errorf("second run: err %v, exports %d", err, a.exports)
	}
}

// A renewal replaces the certificate, key and serial and keeps the secret's
// other fields: a mutual TLS service's client CA bundle lives there too.
func TestRenewalKeepsTheSecretsOtherFields(t *testing.T) {
	a := issued(t, 0x78)
	s := &fakeSecrets{values: map[string]string{passphraseARN: passphrase,
		secretARN: `{"certificate":"old","privateKey":"old","serial":"0a:1b:2c","clientCA":"-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n"}`}}
	if _, err := newExporter(a, s).reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	var fields map[string]string
	if err := json.Unmarshal([]byte(s.values[secretARN]), &fields); err != nil {
		t.Fatal(err)
	}
	if fields["clientCA"] != "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n" {
		t.Errorf("clientCA after the export: %q", fields["clientCA"])
	}
	if fields["serial"] != "78" || fields["privateKey"] != encryptedKey || fields["certificate"] == "old" {
		t.Errorf("the export did not replace certificate, key and serial: %v", fields)
	}
}

func TestPendingValidationExportsNothingAndIsNotOutOfSync(t *testing.T) {
	a := &fakeACM{status: acmtypes.CertificateStatusPendingValidation}
	s := &fakeSecrets{values: map[string]string{passphraseARN: passphrase}}
	out, err := newExporter(a, s).reconcile(context.Background())
	if err != nil || a.exports != 0 || !out.InSync {
		t.Errorf("err %v, exports %d, outcome %+v", err, a.exports, out)
	}
	a.status = acmtypes.CertificateStatusExpired
	if out, _ := newExporter(a, s).reconcile(context.Background()); out.InSync {
		t.Error("an expired certificate counts as in sync")
	}
}

// Two exports of the same certificate at once (the event and the
// schedule): the second put finds the first's version and is success, and
// AWSCURRENT moved once.
func TestConcurrentExportsOfOneCertificatePutOneVersion(t *testing.T) {
	a := issued(t, 0x0a1b2c)
	s := &fakeSecrets{values: map[string]string{passphraseARN: passphrase}}
	e := newExporter(a, s)
	if _, err := e.export(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The second export encrypts the key with another salt.
	a.export.PrivateKey = aws.String(strings.Replace(encryptedKey, "TUlJ", "TUlK", 1))
	if _, err := e.export(context.Background()); err != nil {
		t.Fatalf("second export: %v", err)
	}
	if len(s.tokens) != 1 || aws.ToString(s.puts[0].ClientRequestToken) != aws.ToString(s.puts[1].ClientRequestToken) {
		t.Errorf("%d versions from one certificate", len(s.tokens))
	}
}

func TestFailedExportFailsTheInvocationAndReportsOutOfSync(t *testing.T) {
	for _, tc := range []struct {
		name string
		acm  func(a *fakeACM)
		want string
	}{
		{"ACM refuses", func(a *fakeACM) {
			a.exportErr = &acmtypes.RequestInProgressException{Message: aws.String("The certificate renewal is in progress")}
		}, "exporting the certificate: RequestInProgressException"},
		{"no encrypted key", func(a *fakeACM) {
			a.export.PrivateKey = aws.String("-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n")
		}, "the export holds no encrypted PKCS#8 private key (ENCRYPTED PRIVATE KEY)"},
		{"no certificate", func(a *fakeACM) { a.export.Certificate = aws.String("") }, "the export holds no PEM certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := issued(t, 0x0a1b2c)
			tc.acm(a)
			s := &fakeSecrets{values: map[string]string{passphraseARN: passphrase}}
			var log bytes.Buffer
			err := handle(context.Background(), newExporter(a, s), "Passthrough", json.RawMessage(`{"detail-type":"Scheduled Event"}`), &log, time.Now)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if len(s.puts) != 0 {
				t.Error("a failed export was put")
			}
			var m map[string]any
			if err := json.Unmarshal(log.Bytes(), &m); err != nil {
				t.Fatalf("metric line %q: %v", log.String(), err)
			}
			if m["OutOfSync"] != float64(1) {
				t.Errorf("OutOfSync %v, want 1", m["OutOfSync"])
			}
			for _, secret := range []string{passphrase, "c2VjcmV0", "TUlJ"} {
				if strings.Contains(err.Error()+log.String(), secret) {
					t.Errorf("secret material %q in the error or the log", secret)
				}
			}
		})
	}
}

func TestLogLineIsAnEmbeddedMetricRecordWithoutSecretMaterial(t *testing.T) {
	a := issued(t, 0x0a1b2c)
	s := &fakeSecrets{values: map[string]string{passphraseARN: passphrase}}
	var log bytes.Buffer
	if err := handle(context.Background(), newExporter(a, s), "Passthrough", json.RawMessage(`{"detail-type":"ACM Certificate Available"}`), &log, time.Now); err != nil {
		t.Fatal(err)
	}
	var m struct {
		AWS struct {
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name string }
			}
		} `json:"_aws"`
		CertificateSecret string
		OutOfSync         int
		Exported          int
	}
	if err := json.Unmarshal(log.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if len(m.AWS.CloudWatchMetrics) != 1 || m.AWS.CloudWatchMetrics[0].Namespace != "Passthrough" || m.CertificateSecret != secretARN || m.OutOfSync != 0 || m.Exported != 1 {
		t.Errorf("metric record %s", log.String())
	}
	for _, secret := range []string{passphrase, "TUlJ"} {
		if strings.Contains(log.String(), secret) {
			t.Errorf("secret material %q in the log", secret)
		}
	}
}

func TestUnreadableCertificateSecretIsAnError(t *testing.T) {
	a := issued(t, 1)
	s := &errSecrets{err: errors.New("AccessDeniedException")}
	_, err := newExporter(a, &fakeSecrets{}).reconcile(context.Background())
	if err == nil {
		// fakeSecrets without values: not found, which is "no value yet";
		// the passphrase is then missing and the export fails.
		t.Fatal("export without a passphrase succeeded")
	}
	e := newExporter(a, nil)
	e.secrets = s
	if _, err := e.reconcile(context.Background()); err == nil || !strings.Contains(err.Error(), "reading the certificate secret: AccessDeniedException") {
		t.Errorf("error %v", err)
	}
}

type errSecrets struct{ err error }

func (e *errSecrets) GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return nil, e.err
}

func (e *errSecrets) PutSecretValue(context.Context, *secretsmanager.PutSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	return nil, e.err
}

func TestSerialNotationsCompareEqual(t *testing.T) {
	for _, tc := range [][2]string{
		{"0A:1B:2C", "0a:1b:2c"},
		{"00:8f:01", "8f:01"},
		{" 8f:01 ", "8f:01"},
	} {
		if got := normalizeSerial(tc[0]); got != tc[1] {
			t.Errorf("normalizeSerial(%q) = %q, want %q", tc[0], got, tc[1])
		}
	}
	if got := colonHex([]byte{0x0a, 0xff}); got != "0a:ff" {
		t.Errorf("colonHex = %q", got)
	}
}

func TestCredentialsComeFromTheLambdaEnvironment(t *testing.T) {
	env := map[string]string{"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "tok"}
	cfg := lambdaConfig(func(k string) string { return env[k] })
	c, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil || cfg.Region != "eu-west-1" || c.AccessKeyID != "AKIA" || c.SecretAccessKey != "s" || c.SessionToken != "tok" {
		t.Errorf("config %+v, credentials %+v, %v", cfg.Region, c, err)
	}
}
