// Command certexport is the Lambda function that keeps a Secrets Manager
// secret equal to an exportable ACM certificate: on ACM's "ACM Certificate
// Available" event and on a schedule, it compares the serial in the secret
// with ACM's current certificate and, when they differ, exports the
// certificate with a passphrase kept in a second secret and puts
// certificate, chain and encrypted key in the first. The put moves the
// secret's AWSCURRENT label, which rolls the services out
// (passthrough.Certificate.RollOut). passthrough.NewExportedCertificate
// deploys it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Environment set by the construct.
const (
	envCertificateARN    = "CERTIFICATE_ARN"
	envCertificateSecret = "CERTIFICATE_SECRET_ARN"
	envPassphraseSecret  = "PASSPHRASE_SECRET_ARN"
	envMetricNamespace   = "METRIC_NAMESPACE"
)

func main() {
	cfg := lambdaConfig(os.Getenv)
	e := &exporter{
		acm:               acm.NewFromConfig(cfg),
		secrets:           secretsmanager.NewFromConfig(cfg),
		certificateARN:    os.Getenv(envCertificateARN),
		certificateSecret: os.Getenv(envCertificateSecret),
		passphraseSecret:  os.Getenv(envPassphraseSecret),
	}
	namespace := os.Getenv(envMetricNamespace)
	lambda.Start(func(ctx context.Context, event json.RawMessage) error {
		if r := parseCFNRequest(event); r != nil {
			return handleCFN(ctx, e, namespace, r, http.DefaultClient, os.Stdout, time.Now)
		}
		return handle(ctx, e, namespace, event, os.Stdout, time.Now)
	})
}

// handleCFN runs the initial export for CloudFormation: a reconcile on
// Create and Update, nothing on Delete (the secret goes with the stack),
// and the outcome PUT to the response URL, so that a failed export fails
// the deployment before a service starts without its certificate.
func handleCFN(ctx context.Context, e *exporter, namespace string, r *cfnRequest, client *http.Client, w interface{ Write([]byte) (int, error) }, now func() time.Time) error {
	var err error
	if r.RequestType != "Delete" {
		err = handle(ctx, e, namespace, json.RawMessage(`{"detail-type":"CloudFormation `+r.RequestType+`"}`), w, now)
		// Services start right after: the secret must hold a certificate
		// now, not at the next reconcile.
		if err == nil {
			if serial, serr := e.secretSerial(ctx); serr != nil {
				err = serr
			} else if serial == "" {
				err = errors.New("the certificate secret holds no certificate: ACM has not issued it (see its status in ACM)")
			}
		}
	}
	return respond(ctx, client, r, r.physicalID(e.certificateSecret), err)
}

// lambdaConfig reads the region and the function role's credentials from
// the Lambda environment, without the SDK's config module (which brings
// SSO, STS and IMDS clients a function never uses).
func lambdaConfig(getenv func(string) string) aws.Config {
	return aws.Config{
		Region: getenv("AWS_REGION"),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{
				AccessKeyID:     getenv("AWS_ACCESS_KEY_ID"),
				SecretAccessKey: getenv("AWS_SECRET_ACCESS_KEY"),
				SessionToken:    getenv("AWS_SESSION_TOKEN"),
				Source:          "Lambda environment",
			}, nil
		}),
	}
}

// handle runs one reconcile for any event (the certificate's event or the
// schedule's: both ask the same question) and writes one metric record to
// w. A failed export fails the invocation, which the errors alarm reports;
// the event's content is not logged, only its type.
func handle(ctx context.Context, e *exporter, namespace string, event json.RawMessage, w interface{ Write([]byte) (int, error) }, now func() time.Time) error {
	var meta struct {
		DetailType string `json:"detail-type"`
	}
	_ = json.Unmarshal(event, &meta)
	out, err := e.reconcile(ctx)
	if err != nil {
		out.InSync = false
	}
	line, merr := metricLine(namespace, e.certificateSecret, out, now())
	if merr == nil {
		fmt.Fprintf(w, "%s\n", line)
	}
	if err != nil {
		return fmt.Errorf("certexport (%s): %w", meta.DetailType, err)
	}
	return nil
}
