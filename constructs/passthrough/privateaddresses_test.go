package passthrough_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// lookupDriver runs the lookup handler's run() with a stub of EC2's
// DescribeNetworkInterfaces that answers from a list of responses (the last
// one repeats), and records the calls it got.
const lookupDriver = `
const fs = require('fs');
const { run } = require('./index.js');
const sc = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const calls = [];
const describe = async (input) => {
  calls.push(input);
  if (sc.error) throw new Error(sc.error);
  return sc.responses[Math.min(calls.length - 1, sc.responses.length - 1)];
};
run(sc.event, describe, { attempts: sc.attempts, delayMs: 1 }).then(
  () => fs.writeFileSync(process.argv[3], JSON.stringify(calls)),
  (e) => { console.error('run failed: ' + e); process.exit(1); });
`

// lookupResponse is what the handler sends CloudFormation.
type lookupResponse struct {
	Status, Reason, PhysicalResourceID, StackID, RequestID, LogicalResourceID string
	Data                                                                      map[string]string
	contentType                                                               string
}

// runLookup runs the handler in privateaddresses.js with Node.js for one
// CloudFormation event, against a response endpoint on loopback, and
// returns what it sent and the DescribeNetworkInterfaces calls it made.
func runLookup(t *testing.T, requestType string, responses []any, attempts int) (lookupResponse, []any) {
	t.Helper()
	return runLookupWith(t, requestType, responses, attempts, "")
}

// runLookupWith is runLookup with a DescribeNetworkInterfaces that fails
// with apiError, when it is not empty.
func runLookupWith(t *testing.T, requestType string, responses []any, attempts int, apiError string) (lookupResponse, []any) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not on PATH (put node_modules/.bin first): %v", err)
	}
	var got lookupResponse
	received := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var raw struct {
			Status, Reason, PhysicalResourceId, StackId, RequestId, LogicalResourceId string
			Data                                                                      map[string]string
		}
		if r.Method != http.MethodPut || json.Unmarshal(body, &raw) != nil {
			t.Errorf("response %s %s: %s", r.Method, r.URL, body)
		}
		got = lookupResponse{raw.Status, raw.Reason, raw.PhysicalResourceId, raw.StackId, raw.RequestId, raw.LogicalResourceId, raw.Data, r.Header.Get("Content-Type")}
		received <- struct{}{}
	}))
	defer srv.Close()

	dir := t.TempDir()
	code, err := os.ReadFile("privateaddresses.js")
	if err != nil {
		t.Fatal(err)
	}
	scenario, _ := json.Marshal(map[string]any{
		"attempts":  attempts,
		"responses": responses,
		"error":     apiError,
		"event": map[string]any{
			"RequestType":        requestType,
			"ResponseURL":        srv.URL + "/cfn-response?signature=x",
			"StackId":            "arn:aws:cloudformation:eu-west-1:111122223333:stack/Test/guid",
			"RequestId":          "request-1",
			"LogicalResourceId":  "Lookup",
			"PhysicalResourceId": "net/old/0123456789abcdef",
			"ResourceProperties": map[string]any{
				"ServiceToken":         "arn:aws:lambda:eu-west-1:111122223333:function:lookup",
				"LoadBalancerFullName": "net/Test-LB/0123456789abcdef",
				"Subnets":              []string{"subnet-a", "subnet-b"},
			},
		},
	})
	for name, content := range map[string][]byte{"index.js": code, "driver.js": []byte(lookupDriver), "scenario.json": scenario} {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(node, "driver.js", "scenario.json", "calls.json")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	select {
	case <-received:
	case <-time.After(5 * time.Second):
		t.Fatal("the handler sent no response to CloudFormation")
	}
	var calls []any
	raw, _ := os.ReadFile(filepath.Join(dir, "calls.json"))
	_ = json.Unmarshal(raw, &calls)
	return got, calls
}

func interfaces(subnetAddress ...string) map[string]any {
	var list []any
	for i := 0; i+1 < len(subnetAddress); i += 2 {
		list = append(list, map[string]any{"SubnetId": subnetAddress[i], "PrivateIpAddress": subnetAddress[i+1]})
	}
	return map[string]any{"NetworkInterfaces": list}
}

// The handler reports one address per subnet, in the subnets' order,
// ignoring interfaces in subnets the load balancer no longer has.
func TestPrivateAddressLookupReportsOneAddressPerSubnetInOrder(t *testing.T) {
	got, calls := runLookup(t, "Create", []any{interfaces("subnet-old", "10.0.9.9", "subnet-b", "10.0.1.7", "subnet-a", "10.0.0.5")}, 3)
	if got.Status != "SUCCESS" || got.Reason != "" {
		t.Fatalf("status %s, reason %q", got.Status, got.Reason)
	}
	if want := map[string]string{"Address0": "10.0.0.5", "Address1": "10.0.1.7"}; jsonString(got.Data) != jsonString(want) {
		t.Errorf("data %v, want %v", got.Data, want)
	}
	if got.PhysicalResourceID != "net/Test-LB/0123456789abcdef" || got.StackID == "" || got.RequestID != "request-1" || got.LogicalResourceID != "Lookup" {
		t.Errorf("response identifies %+v", got)
	}
	if got.contentType != "" {
		t.Errorf("content type %q; the presigned URL is signed without one", got.contentType)
	}
	want := `[{"Filters":[{"Name":"description","Values":["ELB net/Test-LB/0123456789abcdef"]}]}]`
	if jsonString(calls) != want {
		t.Errorf("calls %s, want %s", jsonString(calls), want)
	}
}

// A network interface that appears late is waited for.
func TestPrivateAddressLookupWaitsForLateInterfaces(t *testing.T) {
	got, calls := runLookup(t, "Update", []any{interfaces("subnet-a", "10.0.0.5"), interfaces("subnet-a", "10.0.0.5", "subnet-b", "10.0.1.7")}, 3)
	if got.Status != "SUCCESS" || len(calls) != 2 || got.Data["Address1"] != "10.0.1.7" {
		t.Errorf("status %s after %d calls, data %v", got.Status, len(calls), got.Data)
	}
}

// A subnet without the load balancer's network interface fails the
// deployment with a message that says what is missing: a partial record
// would send callers to the zones that answer only.
func TestPrivateAddressLookupFailsWhenASubnetHasNoInterface(t *testing.T) {
	got, calls := runLookup(t, "Create", []any{interfaces("subnet-a", "10.0.0.5")}, 3)
	want := `load balancer net/Test-LB/0123456789abcdef has network interfaces in 1 of its 2 subnets after 3 lookups, none in subnet-b; its private DNS record would be partial. Check its subnets and the network interfaces described "ELB net/Test-LB/0123456789abcdef"`
	if got.Status != "FAILED" || got.Reason != want {
		t.Errorf("status %s, reason\ngot:  %s\nwant: %s", got.Status, got.Reason, want)
	}
	if len(calls) != 3 || len(got.Data) != 0 {
		t.Errorf("%d calls, data %v; want 3 calls and no data", len(calls), got.Data)
	}
}

// An API error (throttling, a missing permission) is reported to
// CloudFormation as the failure's reason, not left to a timeout.
func TestPrivateAddressLookupReportsAnAPIError(t *testing.T) {
	got, _ := runLookupWith(t, "Create", nil, 3, "UnauthorizedOperation: You are not authorized to perform this operation.")
	if got.Status != "FAILED" || got.Reason != "UnauthorizedOperation: You are not authorized to perform this operation." {
		t.Errorf("status %s, reason %q", got.Status, got.Reason)
	}
}

// Deleting the record's lookup deletes nothing and looks nothing up.
func TestPrivateAddressLookupDeleteIsANoOp(t *testing.T) {
	got, calls := runLookup(t, "Delete", []any{interfaces()}, 3)
	if got.Status != "SUCCESS" || got.PhysicalResourceID != "net/old/0123456789abcdef" || len(calls) != 0 {
		t.Errorf("status %s, physical ID %s, %d calls", got.Status, got.PhysicalResourceID, len(calls))
	}
}

// CloudFormation takes at most 4096 characters of inline function code.
func TestPrivateAddressLookupFitsInlineCode(t *testing.T) {
	code, err := os.ReadFile("privateaddresses.js")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(code); n > 4096 || !strings.Contains(string(code), "exports.handler") {
		t.Errorf("handler is %d bytes (at most 4096) or has no exports.handler", n)
	}
}
