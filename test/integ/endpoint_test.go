package integ

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// The acceptance is a Signature Version 4 signed EC2 Query API request; a
// local server stands in for EC2 and answers with the API reference's
// shapes.
func TestAcceptEndpointConnections(t *testing.T) {
	creds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", SessionToken: "token"}, nil
	})
	now := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		status int
		answer string
		want   string
	}{
		{"accepted", 200, "accept-vpc-endpoint-connections.xml", ""},
		{"not accepted", 200, "accept-vpc-endpoint-connections-unsuccessful.xml",
			"endpoint vpce-0c1308d7312217123 not accepted: InvalidVpcEndpoint.NotFound: The Vpc Endpoint Id 'vpce-0c1308d7312217123' does not exist"},
		{"refused", 403, "error-unauthorized.xml", "AcceptVpcEndpointConnections: 403 UnauthorizedOperation: You are not authorized to perform this operation."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			answer, err := os.ReadFile(filepath.Join("testdata", "ec2", tc.answer))
			if err != nil {
				t.Fatal(err)
			}
			var got url.Values
			var auth, date, token string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				got, _ = url.ParseQuery(string(body))
				auth, date, token = r.Header.Get("Authorization"), r.Header.Get("X-Amz-Date"), r.Header.Get("X-Amz-Security-Token")
				w.WriteHeader(tc.status)
				w.Write(answer)
			}))
			defer srv.Close()
			err = AcceptEndpointConnections(context.Background(), creds, srv.Client(), srv.URL, "eu-west-1",
				"vpce-svc-0a1b2c3d4e5f60718", []string{"vpce-0c1308d7312217123"}, now)
			if (err == nil) != (tc.want == "") || (err != nil && err.Error() != tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
			if got.Get("Action") != "AcceptVpcEndpointConnections" || got.Get("Version") != "2016-11-15" ||
				got.Get("ServiceId") != "vpce-svc-0a1b2c3d4e5f60718" || got.Get("VpcEndpointId.1") != "vpce-0c1308d7312217123" {
				t.Errorf("request %v", got)
			}
			if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260102/eu-west-1/ec2/aws4_request, SignedHeaders=") ||
				date != "20260102T120000Z" || token != "token" {
				t.Errorf("signature: %q %q %q", auth, date, token)
			}
		})
	}
	if got := EC2Endpoint("eu-west-1"); got != "https://ec2.eu-west-1.amazonaws.com/" {
		t.Errorf("endpoint %s", got)
	}
}
