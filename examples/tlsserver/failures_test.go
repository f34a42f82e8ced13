package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

// TestClassifyHandshakeError pins the reason of each handshake error text
// net/http logs, including the server's own PROXY and client chain errors.
func TestClassifyHandshakeError(t *testing.T) {
	const from = "http: TLS handshake error from 10.0.1.7:40112: "
	tests := []struct {
		detail string
		reason string
	}{
		{"EOF", reasonAborted},
		{"unexpected EOF", reasonAborted},
		{"read tcp 10.0.1.5:8443->10.0.1.7:40112: read: connection reset by peer", reasonAborted},
		{"read tcp 10.0.1.5:8443->10.0.1.7:40112: i/o timeout", reasonTimeout},
		{"proxy protocol: no complete v2 header within 5s", reasonProxyHeader},
		{"proxy protocol: v1 header refused, only v2 is accepted", reasonProxyHeader},
		{"proxy protocol: no v2 signature at the start of the connection", reasonProxyHeader},
		{"client sent an HTTP request to an HTTPS server", reasonNotTLS},
		{"tls: first record does not look like a TLS handshake", reasonNotTLS},
		{"tls: client offered only unsupported versions: [302 301]", reasonProtocolVersion},
		{"tls: no cipher suite supported by both client and server; client offered: [c013]", reasonNoSharedParams},
		{"tls: no key exchanges supported by both client and server", reasonNoSharedParams},
		{"tls: client didn't provide a certificate", reasonClientCertificate},
		{"client certificate chain of 201 certificates refused: at most 4 are verified", reasonClientCertificate},
		{"client certificate not verified: x509: certificate has expired or is not yet valid", reasonClientCertificate},
		{"tls: failed to parse client certificate: x509: malformed certificate", reasonClientCertificate},
		{"remote error: tls: unknown certificate authority", reasonClientAlert},
		{"tls: received unexpected handshake message of type *tls.clientHelloMsg", reasonOther},
	}
	for _, tt := range tests {
		reason, peer, detail, ok := classifyHandshakeError(from + tt.detail)
		if !ok || reason != tt.reason || peer != "10.0.1.7:40112" || detail != tt.detail {
			t.Errorf("%q: reason %q peer %q detail %q ok %v, want reason %q", tt.detail, reason, peer, detail, ok, tt.reason)
		}
	}
	// Not failures: other error-log lines, and the -healthcheck probe's
	// missing client certificate under mutual TLS (a loopback peer).
	for _, line := range []string{
		"http: panic serving 10.0.1.7:5000: boom",
		"EOF",
		"http: TLS handshake error from 127.0.0.1:5000: tls: client didn't provide a certificate",
		"http: TLS handshake error from [::1]:5000: tls: client didn't provide a certificate",
	} {
		if reason, _, _, ok := classifyHandshakeError(line); ok {
			t.Errorf("%q classified as a failure (%s)", line, reason)
		}
	}
}

// TestFailureLogSamples: each reason logs at most failureLogBurst lines per
// interval, aborted connections (health checks) none; everything is
// counted, and a new interval brings a new allowance.
func TestFailureLogSamples(t *testing.T) {
	var buf bytes.Buffer
	f := newFailureLog(slog.New(slog.NewJSONHandler(&buf, nil)))
	for i := range 1000 {
		f.handshakeFailed(reasonTimeout, fmt.Sprintf("10.0.0.1:%d", i), "i/o timeout")
		f.handshakeFailed(reasonAborted, "10.0.0.2:1", "EOF")
	}
	f.refused(reasonOverCapacity, "10.0.0.3:1", "full")
	if n := strings.Count(buf.String(), "\n"); n != failureLogBurst+1 {
		t.Errorf("%d lines logged for 2001 failures, want %d:\n%s", n, failureLogBurst+1, &buf)
	}
	c := f.flush()
	if c.handshakeFailures() != 1000 || c.refusals() != 1 || c.byReason[reasonAborted] != 1000 || c.suppressed != 1000-failureLogBurst {
		t.Errorf("counted %+v", c)
	}
	buf.Reset()
	f.handshakeFailed(reasonTimeout, "10.0.0.1:1", "i/o timeout")
	if c := f.flush(); c.handshakeFailures() != 1 || buf.Len() == 0 {
		t.Errorf("next interval: %+v, logged %q", c, &buf)
	}
}

// TestFailureEMF pins the metric line: two Count metrics with the
// ServiceName dimension, the reasons and the suppressed lines as plain
// members.
func TestFailureEMF(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := failureCounts{byReason: map[string]int{reasonTimeout: 7, reasonAborted: 3, reasonOverCapacity: 2}, suppressed: 4}
	got, err := failureEMF(c, "orders", now)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"_aws":{"Timestamp":1767225600000,"CloudWatchMetrics":[{"Namespace":"Passthrough","Dimensions":[["ServiceName"]],"Metrics":[{"Name":"HandshakeFailures","Unit":"Count"},{"Name":"ConnectionsRefused","Unit":"Count"}]}]},"ServiceName":"orders","HandshakeFailures":7,"ConnectionsRefused":2,"Reasons":{"aborted":3,"over_capacity":2,"timeout":7},"SuppressedLogLines":4}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got, _ := failureEMF(failureCounts{}, "orders", now); !strings.Contains(string(got), `"HandshakeFailures":0,"ConnectionsRefused":0,"Reasons":{}`) {
		t.Errorf("empty interval: %s", got)
	}
}

// TestReportFailuresFlushesAtEnd: the interval cut short by shutdown is
// reported too.
func TestReportFailuresFlushesAtEnd(t *testing.T) {
	var buf bytes.Buffer
	f := newFailureLog(slog.New(slog.DiscardHandler))
	f.handshakeFailed(reasonNotTLS, "10.0.0.1:1", "tls: first record does not look like a TLS handshake")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	reportFailures(ctx, &syncWriter{w: &buf}, f, "svc", time.Hour, slog.New(slog.DiscardHandler))
	var line failureLine
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil || line.HandshakeFailures != 1 {
		t.Errorf("final line %q: %v", &buf, err)
	}
}

// TestErrorLogWriterRoutesHandshakeErrors: handshake errors go to the
// failure log, other net/http errors to the log as warnings.
func TestErrorLogWriterRoutesHandshakeErrors(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	f := newFailureLog(slog.New(slog.DiscardHandler))
	l := log.New(errorLogWriter{logger, f}, "", 0)
	l.Printf("http: TLS handshake error from %s: %v", "10.0.0.1:1", "EOF")
	l.Printf("http: TLS handshake error from %s: %v", "127.0.0.1:1", "tls: client didn't provide a certificate")
	if buf.Len() != 0 {
		t.Errorf("logged %s", &buf)
	}
	if c := f.flush(); c.byReason[reasonAborted] != 1 || len(c.byReason) != 1 {
		t.Errorf("counted %v", c.byReason)
	}
	l.Printf("http: Accept error: %v", "too many open files")
	var line struct{ Level, Msg, Source string }
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil || line.Level != "WARN" || line.Source != "net/http" {
		t.Errorf("logged %q (%v)", &buf, err)
	}
}

// TestHandshakeFailuresCountedAndSampled: against the server binary, a
// burst of failing clients is counted exactly in the metric lines while
// the log gets a sample of each reason, and health-check style
// connections are counted but never logged.
func TestHandshakeFailuresCountedAndSampled(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t)
	certPEM, keyPEM := pki.validServerPEM(t)
	srv := startServer(t, append(certEnv(certPEM, keyPEM), "CONNECTION_METRIC_INTERVAL_SECONDS=1")...)
	const plain, old, aborted = 40, 10, 20
	for range plain {
		if c, err := net.Dial("tcp", srv.addr); err == nil {
			fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
			_, _ = c.Read(make([]byte, 512))
			c.Close()
		}
	}
	for range old {
		if c, err := dialTLS(srv.addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11, MinVersion: tls.VersionTLS10}, 2*time.Second); err == nil {
			c.Close()
		}
	}
	for range aborted {
		if c, err := net.Dial("tcp", srv.addr); err == nil {
			c.Close()
		}
	}
	if n := waitReasonTotal(t, srv, reasonNotTLS, plain); n != plain {
		t.Errorf("metric lines count %d not_tls, want %d", n, plain)
	}
	if n := waitReasonTotal(t, srv, reasonProtocolVersion, old); n != old {
		t.Errorf("metric lines count %d protocol_version, want %d", n, old)
	}
	if n := waitReasonTotal(t, srv, reasonAborted, aborted); n != aborted {
		t.Errorf("metric lines count %d aborted, want %d", n, aborted)
	}
	var total int
	for _, line := range metricLines(srv) {
		v, _ := line[handshakeFailuresMetric].(float64)
		total += int(v)
	}
	if total != plain+old {
		t.Errorf("HandshakeFailures sum %d, want %d (aborted connections excluded)", total, plain+old)
	}

	// Per reason, at most failureLogBurst lines in each interval that saw
	// the reason.
	logged := map[string]int{}
	for _, line := range srv.stdout.jsonLines() {
		if line["msg"] == "handshake failed" {
			logged[line["reason"].(string)]++
		}
	}
	intervals := map[string]int{}
	for _, line := range metricLines(srv) {
		for reason, v := range line["Reasons"].(map[string]any) {
			if v.(float64) > 0 {
				intervals[reason]++
			}
		}
	}
	for reason, n := range logged {
		if n > failureLogBurst*intervals[reason] {
			t.Errorf("%d lines logged for %s over %d intervals, want at most %d each", n, reason, intervals[reason], failureLogBurst)
		}
	}
	if logged[reasonAborted] != 0 {
		t.Errorf("%d aborted connections logged", logged[reasonAborted])
	}
	if logged[reasonNotTLS] == 0 {
		t.Error("no sample of the not_tls failures logged")
	}
	t.Logf("%d failing connections, %d log lines: %v", plain+old+aborted, logged[reasonNotTLS]+logged[reasonProtocolVersion], logged)
}
