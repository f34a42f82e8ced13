package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
)

// cloudFormation is a loopback server standing in for the presigned S3
// URL: it records the one response PUT to it.
func cloudFormation(t *testing.T) (*httptest.Server, *cfnResponse) {
	t.Helper()
	got := &cfnResponse{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut {
			t.Errorf("method %s, want PUT", r.Method)
		}
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, got); err != nil {
			t.Errorf("response %q: %v", b, err)
		}
		if strings.Contains(string(b), passphrase) || strings.Contains(string(b), "TUlJ") {
			t.Errorf("secret material in the response to CloudFormation: %s", b)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func cfnEvent(requestType, url string) json.RawMessage {
	b, _ := json.Marshal(map[string]string{
		"RequestType": requestType, "ResponseURL": url, "StackId": "arn:aws:cloudformation:eu-west-1:111122223333:stack/S/1",
		"RequestId": "r1", "LogicalResourceId": "InitialExport", "ServiceToken": "arn:aws:lambda:eu-west-1:111122223333:function:f",
	})
	return b
}

func TestCloudFormationCreateExportsAndAnswersSuccess(t *testing.T) {
	srv, got := cloudFormation(t)
	a := issued(t, 0x0a1b2c)
	s := &fakeSecrets{values: map[string]string{passphraseARN: passphrase}}
	r := parseCFNRequest(cfnEvent("Create", srv.URL))
	if r == nil {
		t.Fatal("a custom resource request was not recognized")
	}
	if err := handleCFN(context.Background(), newExporter(a, s), "Passthrough", r, srv.Client(), io.Discard, time.Now); err != nil {
		t.Fatal(err)
	}
	if got.Status != "SUCCESS" || got.RequestID != "r1" || got.LogicalResourceID != "InitialExport" || got.PhysicalResourceID != "initial-export:"+secretARN {
		t.Errorf("response %+v", got)
	}
	if len(s.puts) != 1 {
		t.Errorf("%d puts, want the initial export", len(s.puts))
	}
}

// A certificate ACM has not issued, or an export that fails, fails the
// deployment, with the reason and without secret material.
func TestCloudFormationCreateWithoutACertificateAnswersFailed(t *testing.T) {
	for name, a := range map[string]*fakeACM{
		"pending": {status: acmtypes.CertificateStatusPendingValidation},
		"export fails": func() *fakeACM {
			a := issued(t, 1)
			a.exportErr = &acmtypes.RequestInProgressException{Message: aws.String("in progress")}
			return a
		}(),
	} {
		t.Run(name, func(t *testing.T) {
			srv, got := cloudFormation(t)
			s := &fakeSecrets{values: map[string]string{passphraseARN: passphrase}}
			if err := handleCFN(context.Background(), newExporter(a, s), "Passthrough", parseCFNRequest(cfnEvent("Create", srv.URL)), srv.Client(), io.Discard, time.Now); err != nil {
				t.Fatal(err)
			}
			if got.Status != "FAILED" || got.Reason == "" {
				t.Errorf("response %+v, want FAILED with a reason", got)
			}
		})
	}
}

func TestCloudFormationDeleteTouchesNothing(t *testing.T) {
	srv, got := cloudFormation(t)
	a := issued(t, 1)
	s := &fakeSecrets{values: map[string]string{passphraseARN: passphrase}}
	r := parseCFNRequest(cfnEvent("Delete", srv.URL))
	r.PhysicalResourceID = "initial-export:x"
	if err := handleCFN(context.Background(), newExporter(a, s), "Passthrough", r, srv.Client(), io.Discard, time.Now); err != nil {
		t.Fatal(err)
	}
	if got.Status != "SUCCESS" || got.PhysicalResourceID != "initial-export:x" || a.exports != 0 || len(s.puts) != 0 {
		t.Errorf("response %+v, exports %d, puts %d", got, a.exports, len(s.puts))
	}
}

func TestEventsAreNotTakenForCloudFormationRequests(t *testing.T) {
	for _, ev := range []string{`{"detail-type":"Scheduled Event","source":"aws.events"}`, `{"detail-type":"ACM Certificate Available","source":"aws.acm"}`, `not json`} {
		if parseCFNRequest(json.RawMessage(ev)) != nil {
			t.Errorf("%s taken for a custom resource request", ev)
		}
	}
}
