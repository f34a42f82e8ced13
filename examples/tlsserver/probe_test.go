package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"maps"
	"math/big"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// probeCert is a self-signed key pair made for one test; probe tests make
// their own, so they depend on no other test file.
type probeCert struct {
	tls         tls.Certificate
	certPEM     []byte
	keyPEM      []byte
	fingerprint string
	pool        *x509.CertPool
}

func newProbeCert(t *testing.T, cn string, usage x509.ExtKeyUsage) probeCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{usage},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	c := probeCert{
		certPEM:     pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:      pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		fingerprint: fingerprint(der),
		pool:        x509.NewCertPool(),
	}
	if c.tls, err = tls.X509KeyPair(c.certPEM, c.keyPEM); err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	c.pool.AddCert(leaf)
	return c
}

// startProbeTarget serves the example server's own handler over TLS on
// loopback, requiring a client certificate from clientCAs when it is not
// nil, and returns its address.
func startProbeTarget(t *testing.T, cert probeCert, clientCAs *x509.CertPool) string {
	t.Helper()
	tc := &tls.Config{Certificates: []tls.Certificate{cert.tls}, MinVersion: tls.VersionTLS12}
	if clientCAs != nil {
		tc.ClientAuth, tc.ClientCAs = tls.RequireAndVerifyClientCert, clientCAs
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", tc)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: newHandler("task-a", false), ErrorLog: nil, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// runProbeCmd runs the command with args and environment env and returns
// its exit code, its one stdout line decoded, and stderr.
func runProbeCmd(t *testing.T, env map[string]string, args ...string) (int, map[string]any, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, func(k string) string { return env[k] }, &stdout, &stderr)
	if stdout.Len() == 0 {
		return code, nil, stderr.String()
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("probe wrote %d lines, want one:\n%s", len(lines), stdout.String())
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &line); err != nil {
		t.Fatalf("probe line is not JSON: %v\n%s", err, lines[0])
	}
	return code, line, stderr.String()
}

func TestProbePassesWhenTheExpectedCertificateIsServed(t *testing.T) {
	cert := newProbeCert(t, "localhost", x509.ExtKeyUsageServerAuth)
	addr := startProbeTarget(t, cert, nil)

	code, line, stderr := runProbeCmd(t, nil, "-probe", addr, "-fingerprint", strings.ToUpper(cert.fingerprint), "-server-name", "localhost")
	if code != 0 {
		t.Fatalf("exit %d, want 0; line %v, stderr %s", code, line, stderr)
	}
	if line["msg"] != probeMessage || line["ok"] != true || line["level"] != "INFO" {
		t.Errorf("line %v: want msg %q, ok true, level INFO", line, probeMessage)
	}
	if got := line["cert_sha256"].([]any); len(got) != 1 || got[0] != cert.fingerprint {
		t.Errorf("cert_sha256 %v, want [%s]", got, cert.fingerprint)
	}
	if got := line["tasks"].([]any); len(got) != 1 || got[0] != "task-a" {
		t.Errorf("tasks %v, want [task-a]: the probe reads the server's answer to GET /", got)
	}
	if line["server_name"] != "localhost" || line["target"] != addr || line["attempts"] != 1.0 {
		t.Errorf("line %v: want server_name localhost, target %s, 1 attempt", line, addr)
	}
}

func TestProbeFailsWhenAnotherCertificateIsServed(t *testing.T) {
	served := newProbeCert(t, "impostor", x509.ExtKeyUsageServerAuth)
	expected := newProbeCert(t, "localhost", x509.ExtKeyUsageServerAuth)
	addr := startProbeTarget(t, served, nil)

	code, line, _ := runProbeCmd(t, nil, "-probe", addr, "-fingerprint", expected.fingerprint)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if line["ok"] != false || line["failures"] != 1.0 || line["level"] != "ERROR" {
		t.Errorf("line %v: want ok false, 1 failure, level ERROR", line)
	}
	want := "served certificate \"CN=impostor\" has SHA-256 " + served.fingerprint + ", want " + expected.fingerprint
	if got, _ := line["first_error"].(string); !strings.Contains(got, want) {
		t.Errorf("first_error %q, want it to contain %q", got, want)
	}
	// Host defaults to the server name.
	if line["server_name"] != "127.0.0.1" {
		t.Errorf("server_name %v, want the host of -probe", line["server_name"])
	}
}

// During a certificate rotation either certificate is right.
func TestProbeAcceptsAnyOfSeveralFingerprints(t *testing.T) {
	cert := newProbeCert(t, "localhost", x509.ExtKeyUsageServerAuth)
	other := newProbeCert(t, "old", x509.ExtKeyUsageServerAuth)
	addr := startProbeTarget(t, cert, nil)
	if code, line, _ := runProbeCmd(t, nil, "-probe", addr, "-fingerprint", other.fingerprint+","+cert.fingerprint); code != 0 {
		t.Errorf("exit %d, want 0: %v", code, line)
	}
}

func TestProbePresentsTheClientCertificateFromTheEnvironment(t *testing.T) {
	server := newProbeCert(t, "localhost", x509.ExtKeyUsageServerAuth)
	client := newProbeCert(t, "probe-client", x509.ExtKeyUsageClientAuth)
	addr := startProbeTarget(t, server, client.pool)

	code, line, _ := runProbeCmd(t, nil, "-probe", addr, "-fingerprint", server.fingerprint)
	if code != 1 {
		t.Errorf("without a client certificate: exit %d, want 1 (%v)", code, line)
	}
	// Under TLS 1.3 the client's handshake completes before the server
	// refuses; the refusal shows on the request.
	if got, _ := line["first_error"].(string); !strings.Contains(got, "GET /") && !strings.Contains(got, "certificate") {
		t.Errorf("first_error %q does not say the server refused", got)
	}

	env := map[string]string{envProbeClientCert: string(client.certPEM), envProbeClientKey: string(client.keyPEM)}
	code, line, _ = runProbeCmd(t, env, "-probe", addr, "-fingerprint", server.fingerprint)
	if code != 0 || line["client_cert"] != true {
		t.Errorf("with %s and %s: exit %d, line %v; want 0 and client_cert true", envProbeClientCert, envProbeClientKey, code, line)
	}
}

func TestProbeFailsWhenNothingListens(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	code, line, _ := runProbeCmd(t, nil, "-probe", addr, "-fingerprint", strings.Repeat("ab", 32), "-probe-timeout", "2s")
	if code != 1 || line["ok"] != false {
		t.Errorf("exit %d, line %v; want 1 and ok false", code, line)
	}
	if got, _ := line["cert_sha256"].([]any); got == nil || len(got) != 0 {
		t.Errorf("cert_sha256 %v, want [] (never null)", line["cert_sha256"])
	}
}

// With -probe-for the probe keeps connecting, one attempt per -probe-every,
// and counts each refused connection: the client loop of a rolling
// deployment inside a VPC.
func TestProbeLoopCountsEveryFailedAttempt(t *testing.T) {
	cert := newProbeCert(t, "localhost", x509.ExtKeyUsageServerAuth)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// Every third connection is closed before the handshake, as a target
	// stopped without draining would do.
	var n atomic.Int32
	tlsConf := &tls.Config{Certificates: []tls.Certificate{cert.tls}}
	srv := &http.Server{Handler: newHandler("task-a", false), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(tls.NewListener(dropEvery(ln, 3, &n), tlsConf))
	t.Cleanup(func() { srv.Close() })

	code, line, _ := runProbeCmd(t, nil, "-probe", ln.Addr().String(), "-fingerprint", cert.fingerprint,
		"-probe-for", "600ms", "-probe-every", "50ms")
	attempts, failures := line["attempts"].(float64), line["failures"].(float64)
	if code != 1 || attempts < 6 || failures != float64(int(attempts)/3) {
		t.Errorf("exit %d, %v attempts, %v failures; want 1, at least 6, and every third failed", code, attempts, failures)
	}
	if line["first_error"] == nil || line["last_error"] == nil {
		t.Errorf("line %v has no first_error and last_error", line)
	}
	if elapsed := line["elapsed_ms"].(float64); elapsed < 600 || elapsed > 5000 {
		t.Errorf("elapsed %v ms, want about 600: the loop is bounded by -probe-for", elapsed)
	}
}

// dropEvery closes every nth accepted connection at once.
func dropEvery(ln net.Listener, nth int32, n *atomic.Int32) net.Listener {
	return &droppingListener{Listener: ln, nth: nth, n: n}
}

type droppingListener struct {
	net.Listener
	nth int32
	n   *atomic.Int32
}

func (l *droppingListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.n.Add(1)%l.nth == 0 {
			c.Close()
			continue
		}
		return c, nil
	}
}

func TestProbeRefusesBadUsage(t *testing.T) {
	good := strings.Repeat("ab", 32)
	cert := newProbeCert(t, "localhost", x509.ExtKeyUsageClientAuth)
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no fingerprint", nil, []string{"-probe", "127.0.0.1:1"}, "probe: -fingerprint is required with -probe: the SHA-256 of the leaf certificate to expect\n"},
		{"not a fingerprint", nil, []string{"-probe", "127.0.0.1:1", "-fingerprint", "abc"}, "probe: -fingerprint \"abc\" is not a SHA-256 in hex\n"},
		{"no port", nil, []string{"-probe", "localhost", "-fingerprint", good}, "probe: -probe \"localhost\": want HOST:PORT: address localhost: missing port in address\n"},
		{"zero timeout", nil, []string{"-probe", "127.0.0.1:1", "-fingerprint", good, "-probe-timeout", "0s"}, "probe: -probe-timeout must be greater than 0\n"},
		{"negative duration", nil, []string{"-probe", "127.0.0.1:1", "-fingerprint", good, "-probe-for", "-1s"}, "probe: -probe-for must not be negative\n"},
		{"zero interval", nil, []string{"-probe", "127.0.0.1:1", "-fingerprint", good, "-probe-for", "1s", "-probe-every", "0s"}, "probe: -probe-every must be greater than 0\n"},
		{"certificate without key", map[string]string{envProbeClientCert: string(cert.certPEM)}, []string{"-probe", "127.0.0.1:1", "-fingerprint", good},
			"probe: set both PROBE_CLIENT_CERT and PROBE_CLIENT_KEY, or neither\n"},
		{"both forms", map[string]string{envProbeClientKey: "x", envProbeClientKey + "_FILE": "/x"}, []string{"-probe", "127.0.0.1:1", "-fingerprint", good},
			"probe: set only one of PROBE_CLIENT_KEY and PROBE_CLIENT_KEY_FILE\n"},
		{"with -healthcheck", nil, []string{"-probe", "127.0.0.1:1", "-healthcheck"}, "-probe cannot be combined with -healthcheck or -gen-cert\n"},
		{"with -gen-cert", nil, []string{"-probe", "127.0.0.1:1", "-gen-cert"}, "-probe cannot be combined with -healthcheck or -gen-cert\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, line, stderr := runProbeCmd(t, tc.env, tc.args...)
			if code != 2 || line != nil || stderr != tc.want {
				t.Errorf("exit %d, stdout %v, stderr %q; want 2, nothing and %q", code, line, stderr, tc.want)
			}
		})
	}
}

// The result line's keys are what test/integ/probe.go parses; a change here
// must be made there too.
func TestProbeLogLineFields(t *testing.T) {
	cert := newProbeCert(t, "localhost", x509.ExtKeyUsageServerAuth)
	addr := startProbeTarget(t, cert, nil)
	_, ok, _ := runProbeCmd(t, nil, "-probe", addr, "-fingerprint", strings.Repeat("ab", 32))
	want := []string{"attempts", "cert_sha256", "client_cert", "elapsed_ms", "failures", "first_error", "last_error", "level", "msg",
		"not_after", "ok", "server_name", "subject", "target", "tasks", "time", "tls_version", "want_sha256"}
	if got := slices.Sorted(maps.Keys(ok)); !slices.Equal(got, want) {
		t.Errorf("keys of a failed probe's line:\n got %v\nwant %v", got, want)
	}
}

// A loop ends when its context does (SIGTERM from ECS's StopTask in
// runProbe) and still reports the attempts it made.
func TestProbeLoopEndsWithItsContext(t *testing.T) {
	cert := newProbeCert(t, "localhost", x509.ExtKeyUsageServerAuth)
	addr := startProbeTarget(t, cert, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	o := probeOptions{addr: addr, serverName: "localhost", want: []string{cert.fingerprint}, timeout: time.Second, duration: time.Hour, interval: 50 * time.Millisecond}
	start := time.Now()
	s := probe(ctx, o, time.Now)
	if took := time.Since(start); took > 5*time.Second || s.attempts < 2 || s.failures != 0 {
		t.Errorf("after %s: %d attempts, %d failures; want it to stop with the context, having passed a few", took, s.attempts, s.failures)
	}
}
