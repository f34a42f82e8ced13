package passthrough_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecr"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/jsii-runtime-go"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
)

const certArn = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:passthrough/demo-AbCdEf"

func withCertificate(f *fixture, cert *passthrough.Certificate) *passthrough.Service {
	p := f.service(443)
	p.Certificate = cert
	return newFargate(f, "Api", p, 256, 512)
}

func TestCertificateArrivesAsECSSecretsNeverAsEnvironment(t *testing.T) {
	f := newFixture(t, false)
	secret := awssecretsmanager.Secret_FromSecretCompleteArn(f.stack, jsii.String("Cert"), jsii.String(certArn))
	withCertificate(f, &passthrough.Certificate{Secret: secret, ClientCAField: jsii.String("clientCA")})
	tpl := f.template(t)

	tpl.Has(typeTaskDef, map[string]any{
		"ContainerDefinitions": []any{assertions.Match_ObjectLike(&map[string]any{
			"Secrets": []any{
				map[string]any{"Name": "TLS_CERT", "ValueFrom": certArn + ":certificate::"},
				map[string]any{"Name": "TLS_CLIENT_CA", "ValueFrom": certArn + ":clientCA::"},
				map[string]any{"Name": "TLS_KEY", "ValueFrom": certArn + ":privateKey::"},
			},
			// Only the metric's service name, which the construct adds.
			"Environment": []any{map[string]any{"Name": "SERVICE_NAME", "Value": "Test/Api"}},
		})},
	})
	raw, _ := json.Marshal(tpl.JSON())
	if strings.Contains(string(raw), "BEGIN") {
		t.Error("template contains PEM material")
	}
}

// The execution role, which ECS uses to fetch secrets, may read exactly the
// certificate secret and nothing else of Secrets Manager.
func TestExecutionRoleReadsExactlyTheCertificateSecret(t *testing.T) {
	f := newFixture(t, false)
	secret := awssecretsmanager.Secret_FromSecretCompleteArn(f.stack, jsii.String("Cert"), jsii.String(certArn))
	svc := withCertificate(f, &passthrough.Certificate{Secret: secret})
	tpl := f.template(t)
	role := logicalID(t, f.stack, svc.TaskDefinition.ExecutionRole())

	var statements []map[string]any
	for _, policy := range tpl.Resources("AWS::IAM::Policy") {
		roles, _ := json.Marshal(policy["Roles"])
		doc := policy["PolicyDocument"].(map[string]any)
		for _, s := range doc["Statement"].([]any) {
			st := s.(map[string]any)
			actions, _ := json.Marshal(st["Action"])
			if strings.Contains(string(actions), "secretsmanager:") {
				if !strings.Contains(string(roles), role) {
					t.Errorf("a role other than the execution role may use Secrets Manager: %v", policy["Roles"])
				}
				statements = append(statements, st)
			}
		}
	}
	if len(statements) != 1 {
		t.Fatalf("%d Secrets Manager statements, want 1: %v", len(statements), statements)
	}
	if got := statements[0]["Resource"]; got != certArn {
		t.Errorf("Secrets Manager statement resource %v, want exactly %s", got, certArn)
	}
	actions, _ := json.Marshal(statements[0]["Action"])
	for _, a := range []string{"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"} {
		if !strings.Contains(string(actions), a) {
			t.Errorf("actions %s lack %s", actions, a)
		}
	}
	if strings.Contains(string(actions), "*") || strings.Contains(string(actions), "PutSecretValue") {
		t.Errorf("actions %s go beyond reading", actions)
	}
}

func TestCustomerManagedKeyCanBeDecryptedByTheExecutionRole(t *testing.T) {
	f := newFixture(t, false)
	key := awskms.Key_FromKeyArn(f.stack, jsii.String("Key"), jsii.String("arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"))
	secret := awssecretsmanager.Secret_FromSecretCompleteArn(f.stack, jsii.String("Cert"), jsii.String(certArn))
	withCertificate(f, &passthrough.Certificate{Secret: secret, EncryptionKey: key})
	f.template(t).Has("AWS::IAM::Policy", map[string]any{
		"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
			"Action":   "kms:Decrypt",
			"Effect":   "Allow",
			"Resource": "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		})})},
	})
}

// Key material never goes into the template in plain text, and each
// certificate variable has one source.
func TestCertificatePropsAreRefusedWithPathAndValue(t *testing.T) {
	certificate := func(c passthrough.Certificate) func(f *fixture) {
		return func(f *fixture) { withCertificate(f, &c) }
	}
	withSecret := func(c passthrough.Certificate) func(f *fixture) {
		return func(f *fixture) { c.Secret = certSecret(f); withCertificate(f, &c) }
	}
	runInvalid(t, []invalidCase{
		{"key material in the plain environment", serviceWith(func(p *serviceProps) { p.Environment = map[string]*string{"TLS_KEY": jsii.String("PEM")} }), "passthrough: Test/Api: Environment TLS_KEY: would put key material in the template in plain text; deliver it with Certificate (or Secrets)"},
		{"a certificate variable also in Secrets", certificateAndSecret("TLS_CERT"), "passthrough: Test/Api: Secrets TLS_CERT: is also set by Certificate; set it in one place"},
		{"certificate without secret", certificate(passthrough.Certificate{}), "passthrough: Test/Api: Certificate.Secret: is required"},
		{"empty field name", withSecret(passthrough.Certificate{ClientCAField: jsii.String("")}), `passthrough: Test/Api: Certificate.ClientCAField "": is empty; name the JSON field of the secret, or leave it nil for the default`},
	})
}

func certSecret(f *fixture) awssecretsmanager.ISecret {
	return awssecretsmanager.Secret_FromSecretCompleteArn(f.stack, jsii.String("Cert"), jsii.String(certArn))
}

// certificateAndSecret builds a service with a Certificate and the same
// secret again in Secrets as variable name.
func certificateAndSecret(name string) func(f *fixture) {
	return func(f *fixture) {
		p := f.service(443)
		p.Certificate = &passthrough.Certificate{Secret: certSecret(f)}
		p.Secrets = map[string]awsecs.Secret{name: awsecs.Secret_FromSecretsManager(p.Certificate.Secret, jsii.String("certificate"))}
		newFargate(f, "Api", p, 256, 512)
	}
}

// The execution role's AwsSolutions-IAM5 suppression covers
// ecr:GetAuthorizationToken, which supports no resource but "*": no other
// statement of the role may be on "*", whatever the image, certificate and
// key, or the suppression would hide it.
func TestExecutionRoleWildcardIsOnlyTheECRToken(t *testing.T) {
	f := newFixture(t, false)
	repo := awsecr.Repository_FromRepositoryName(f.stack, jsii.String("Repo"), jsii.String("payments-api"))
	key := awskms.Key_FromKeyArn(f.stack, jsii.String("Key"), jsii.String("arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"))
	p := f.service(443)
	p.Image = awsecs.ContainerImage_FromEcrRepository(repo, jsii.String("1.4.2"))
	p.Certificate = &passthrough.Certificate{
		Secret:        awssecretsmanager.Secret_FromSecretCompleteArn(f.stack, jsii.String("Cert"), jsii.String(certArn)),
		EncryptionKey: key,
	}
	svc := newFargate(f, "Api", p, 256, 512)
	tpl := f.template(t)
	role := logicalID(t, f.stack, svc.TaskDefinition.ExecutionRole())
	wildcards := 0
	for id, policy := range tpl.Resources("AWS::IAM::Policy") {
		if roles, _ := json.Marshal(policy["Roles"]); !strings.Contains(string(roles), role) {
			continue
		}
		for _, s := range policy["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			st := s.(map[string]any)
			if res, _ := json.Marshal(st["Resource"]); strings.Contains(string(res), `"*"`) {
				wildcards++
				if st["Action"] != "ecr:GetAuthorizationToken" {
					t.Errorf("%s: execution role statement on \"*\" allows %v, want only ecr:GetAuthorizationToken", id, st["Action"])
				}
			}
		}
	}
	if wildcards != 1 {
		t.Errorf("%d execution role statements on \"*\", want 1 (ecr:GetAuthorizationToken for the ECR image)", wildcards)
	}
}
