package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadConfigErrors(t *testing.T) {
	pki := newTestPKI(t)
	certPEM, keyPEM := pki.validServerPEM(t)
	cert, key := string(certPEM), string(keyPEM)
	tests := []struct {
		name string
		env  map[string]string
		want string // substring of the error
	}{
		{"no cert", map[string]string{"TLS_KEY": key}, "TLS_CERT is not set"},
		{"nothing", map[string]string{}, "TLS_CERT is not set"},
		{"no key", map[string]string{"TLS_CERT": cert}, "TLS_KEY is not set"},
		{"both cert sources", map[string]string{"TLS_CERT": cert, "TLS_CERT_FILE": "/x", "TLS_KEY": key}, "set only one of TLS_CERT and TLS_CERT_FILE"},
		{"unreadable file", map[string]string{"TLS_CERT_FILE": "/nonexistent/cert.pem", "TLS_KEY": key}, "TLS_CERT_FILE"},
		{"key mismatch", map[string]string{"TLS_CERT": cert, "TLS_KEY": string(mustPEMKey(t))}, "TLS_CERT/TLS_KEY"},
		{"garbage cert", map[string]string{"TLS_CERT": "hello", "TLS_KEY": key}, "TLS_CERT/TLS_KEY"},
		{"bad client CA", map[string]string{"TLS_CERT": cert, "TLS_KEY": key, "TLS_CLIENT_CA": "nope"}, "TLS_CLIENT_CA"},
		{"bad port", map[string]string{"TLS_CERT": cert, "TLS_KEY": key, "PORT": "https"}, "PORT"},
		{"port range", map[string]string{"TLS_CERT": cert, "TLS_KEY": key, "PORT": "70000"}, "PORT"},
		{"bad proxy protocol", map[string]string{"TLS_CERT": cert, "TLS_KEY": key, "PROXY_PROTOCOL": "v1"}, "PROXY_PROTOCOL"},
		{"drain too long", map[string]string{"TLS_CERT": cert, "TLS_KEY": key, "DRAIN_ACCEPT_SECONDS": "30"}, "DRAIN_ACCEPT_SECONDS"},
		{"negative timeout", map[string]string{"TLS_CERT": cert, "TLS_KEY": key, "SHUTDOWN_TIMEOUT_SECONDS": "-1"}, "SHUTDOWN_TIMEOUT_SECONDS"},
		{"zero timeout", map[string]string{"TLS_CERT": cert, "TLS_KEY": key, "SHUTDOWN_TIMEOUT_SECONDS": "0"}, "SHUTDOWN_TIMEOUT_SECONDS"},
		{"zero interval", map[string]string{"TLS_CERT": cert, "TLS_KEY": key, "CERT_METRIC_INTERVAL_SECONDS": "0"}, "CERT_METRIC_INTERVAL_SECONDS"},
		{"zero failure interval", map[string]string{"TLS_CERT": cert, "TLS_KEY": key, "CONNECTION_METRIC_INTERVAL_SECONDS": "0"}, "CONNECTION_METRIC_INTERVAL_SECONDS"},
		{"deadline off", map[string]string{"TLS_CERT": cert, "TLS_KEY": key, "READ_TIMEOUT_SECONDS": "0"}, "READ_TIMEOUT_SECONDS must be greater than 0"},
		{"bad deadline", map[string]string{"TLS_CERT": cert, "TLS_KEY": key, "WRITE_TIMEOUT_SECONDS": "5s"}, "WRITE_TIMEOUT_SECONDS"},
		{"PROXY header deadline off", map[string]string{"TLS_CERT": cert, "TLS_KEY": key, "PROXY_HEADER_TIMEOUT_SECONDS": "0"}, "PROXY_HEADER_TIMEOUT_SECONDS"},
		{"shutdown at ECS's default stop timeout", map[string]string{"TLS_CERT": cert, "TLS_KEY": key, "SHUTDOWN_TIMEOUT_SECONDS": "30"},
			"SHUTDOWN_TIMEOUT_SECONDS=30 is not below the container's stop timeout of 30 s (ECS's default, STOP_TIMEOUT_SECONDS unset)"},
		{"shutdown over the task's stop timeout", map[string]string{"TLS_CERT": cert, "TLS_KEY": key, "SHUTDOWN_TIMEOUT_SECONDS": "15", "STOP_TIMEOUT_SECONDS": "10"},
			"SHUTDOWN_TIMEOUT_SECONDS=15 is not below the container's stop timeout of 10 s (STOP_TIMEOUT_SECONDS)"},
		{"zero stop timeout", map[string]string{"TLS_CERT": cert, "TLS_KEY": key, "STOP_TIMEOUT_SECONDS": "0"}, "STOP_TIMEOUT_SECONDS"},
		{"trusted ranges without PROXY protocol", map[string]string{"TLS_CERT": cert, "TLS_KEY": key, "PROXY_TRUSTED_CIDRS": "10.0.0.0/16"}, "PROXY_TRUSTED_CIDRS is set but PROXY_PROTOCOL is off"},
		{"bad trusted range", map[string]string{"TLS_CERT": cert, "TLS_KEY": key, "PROXY_PROTOCOL": "v2", "PROXY_TRUSTED_CIDRS": "10.0.0.0/33"}, `PROXY_TRUSTED_CIDRS: "10.0.0.0/33"`},
		{"empty trusted ranges", map[string]string{"TLS_CERT": cert, "TLS_KEY": key, "PROXY_PROTOCOL": "v2", "PROXY_TRUSTED_CIDRS": ", ,"}, "PROXY_TRUSTED_CIDRS lists no range"},
		{"zero connections", map[string]string{"TLS_CERT": cert, "TLS_KEY": key, "MAX_CONNECTIONS": "0"}, "MAX_CONNECTIONS"},
		{"bad memory", map[string]string{"TLS_CERT": cert, "TLS_KEY": key, "MEMORY_LIMIT_MIB": "512M"}, "MEMORY_LIMIT_MIB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfig(envMap(tt.env))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func mustPEMKey(t *testing.T) []byte {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := pkcs8PEM(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLoadConfigDefaults(t *testing.T) {
	pki := newTestPKI(t)
	certPEM, keyPEM := pki.validServerPEM(t)
	cfg, err := loadConfig(envMap(map[string]string{"TLS_CERT": string(certPEM), "TLS_KEY": string(keyPEM)}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.port != "8443" || cfg.proxyProtocol || cfg.proxyTrusted != nil || cfg.drainAccept != 0 ||
		cfg.metricInterval != time.Hour || cfg.failureMetricInterval != time.Minute || cfg.serviceName != "passthrough" ||
		cfg.clientCAs != nil || cfg.debugEndpoints || cfg.maxConns != 0 || cfg.memoryLimitMiB != 0 {
		t.Errorf("defaults: %+v", cfg)
	}
	if cfg.timeouts != defaultTimeouts {
		t.Errorf("timeouts %+v, want %+v", cfg.timeouts, defaultTimeouts)
	}
	if cfg.cert.Leaf == nil || fingerprint(cfg.cert.Leaf.Raw) != pemFingerprint(t, certPEM) {
		t.Error("leaf not loaded")
	}

	// Files, literal \n from a JSON secret, and every option set.
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = loadConfig(envMap(map[string]string{
		"TLS_CERT":                           strings.ReplaceAll(string(certPEM), "\n", `\n`),
		"TLS_KEY_FILE":                       keyFile,
		"TLS_CLIENT_CA":                      string(pki.caPEM),
		"PORT":                               "9443",
		"PROXY_PROTOCOL":                     "true",
		"PROXY_TRUSTED_CIDRS":                "10.0.0.0/16, 2600:1f18:abc::/56,192.0.2.7",
		"PROXY_HEADER_TIMEOUT_SECONDS":       "2",
		"READ_HEADER_TIMEOUT_SECONDS":        "3",
		"READ_TIMEOUT_SECONDS":               "4",
		"WRITE_TIMEOUT_SECONDS":              "6",
		"IDLE_TIMEOUT_SECONDS":               "7",
		"DRAIN_ACCEPT_SECONDS":               "5",
		"SHUTDOWN_TIMEOUT_SECONDS":           "40",
		"STOP_TIMEOUT_SECONDS":               "60",
		"MAX_CONNECTIONS":                    "100",
		"MEMORY_LIMIT_MIB":                   "1024",
		"CERT_METRIC_INTERVAL_SECONDS":       "60",
		"CONNECTION_METRIC_INTERVAL_SECONDS": "10",
		"SERVICE_NAME":                       "orders",
		"DEBUG_SLOW_PATH":                    "1",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.port != "9443" || !cfg.proxyProtocol || cfg.drainAccept != 5*time.Second || cfg.shutdownTimeout != 40*time.Second ||
		cfg.stopTimeout != time.Minute || cfg.maxConns != 100 || cfg.memoryLimitMiB != 1024 || cfg.failureMetricInterval != 10*time.Second ||
		cfg.metricInterval != time.Minute || cfg.serviceName != "orders" || cfg.clientCAs == nil || !cfg.debugEndpoints {
		t.Errorf("parsed: %+v", cfg)
	}
	if want := (timeouts{2 * time.Second, 3 * time.Second, 4 * time.Second, 6 * time.Second, 7 * time.Second}); cfg.timeouts != want {
		t.Errorf("timeouts %+v, want %+v", cfg.timeouts, want)
	}
	if got := fmt.Sprint(cfg.proxyTrusted); got != "[10.0.0.0/16 2600:1f18:abc::/56 192.0.2.7/32]" {
		t.Errorf("PROXY_TRUSTED_CIDRS parsed as %s", got)
	}
}

// TestRunMissingCert: the error is one JSON log line naming the variable.
func TestRunMissingCert(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(nil, envMap(map[string]string{"TLS_KEY": "x"}), &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	var line struct{ Level, Msg, Error string }
	if err := json.Unmarshal(stdout.Bytes(), &line); err != nil {
		t.Fatalf("%q: %v", stdout.String(), err)
	}
	if line.Level != "ERROR" || !strings.HasPrefix(line.Error, "TLS_CERT is not set") {
		t.Errorf("logged %+v", line)
	}
}

func TestCertExpiryEMF(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	leaf := &x509.Certificate{NotAfter: now.Add(36 * time.Hour)}
	got, err := certExpiryEMF(leaf, "orders", now)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"_aws":{"Timestamp":1767225600000,"CloudWatchMetrics":[{"Namespace":"Passthrough","Dimensions":[["ServiceName"]],"Metrics":[{"Name":"CertificateDaysToExpiry","Unit":"None"}]}]},"ServiceName":"orders","CertificateDaysToExpiry":1.5}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}

	// Expired: negative, fractional.
	got, _ = certExpiryEMF(&x509.Certificate{NotAfter: now.Add(-6 * time.Hour)}, "orders", now)
	if !strings.HasSuffix(string(got), `"CertificateDaysToExpiry":-0.25}`) {
		t.Errorf("expired: %s", got)
	}

	// The rules of the specification, checked on the generic shape: every
	// dimension and metric named in a directive is a top-level member.
	var doc map[string]any
	if err := json.Unmarshal(got, &doc); err != nil {
		t.Fatal(err)
	}
	aws := doc["_aws"].(map[string]any)
	if _, ok := aws["Timestamp"].(float64); !ok {
		t.Error("Timestamp is not a number")
	}
	for _, d := range aws["CloudWatchMetrics"].([]any) {
		dir := d.(map[string]any)
		for _, set := range dir["Dimensions"].([]any) {
			for _, name := range set.([]any) {
				if _, ok := doc[name.(string)].(string); !ok {
					t.Errorf("dimension %v has no top-level string value", name)
				}
			}
		}
		for _, m := range dir["Metrics"].([]any) {
			name := m.(map[string]any)["Name"].(string)
			if _, ok := doc[name].(float64); !ok {
				t.Errorf("metric %s has no top-level number value", name)
			}
		}
	}
}

func TestReportCertExpiryRepeats(t *testing.T) {
	var buf bytes.Buffer
	w := &syncWriter{w: &buf}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	leaf := &x509.Certificate{NotAfter: time.Now().Add(48 * time.Hour)}
	go func() {
		reportCertExpiry(ctx, w, leaf, "svc", 20*time.Millisecond, slog.New(slog.DiscardHandler))
		close(done)
	}()
	deadline := time.Now().Add(2 * time.Second)
	for {
		w.mu.Lock()
		n := strings.Count(buf.String(), "\n")
		w.mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d lines after 2 s", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var doc emfLine
		if err := json.Unmarshal([]byte(line), &doc); err != nil || doc.CertificateDaysToExpiry < 1.99 || doc.CertificateDaysToExpiry > 2 {
			t.Errorf("line %q: %v", line, err)
		}
	}
}

// TestTaskMetadata: the task ID and the task's memory limit come from the
// metadata endpoint; without it the task is named by the hostname.
func TestTaskMetadata(t *testing.T) {
	meta := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v4/abc/task" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(`{"Cluster":"c","TaskARN":"arn:aws:ecs:eu-west-1:123456789012:task/c/0123456789abcdef0123456789abcdef","Limits":{"CPU":0.25,"Memory":512}}`))
	}))
	defer meta.Close()
	logger := slog.New(slog.DiscardHandler)
	m := loadTaskMetadata(meta.URL+"/v4/abc", logger)
	if m == nil {
		t.Fatal("no metadata")
	}
	if got := taskName(m); got != "0123456789abcdef0123456789abcdef" {
		t.Errorf("task = %q", got)
	}
	if m.Limits.Memory != 512 {
		t.Errorf("task memory limit %v MiB, want 512", m.Limits.Memory)
	}
	host, _ := os.Hostname()
	if got := taskName(loadTaskMetadata(meta.URL+"/v4/other", logger)); got != host {
		t.Errorf("fallback = %q, want hostname %q", got, host)
	}
	if got := taskName(loadTaskMetadata("", logger)); got != host {
		t.Errorf("no metadata = %q, want hostname %q", got, host)
	}
}

func TestGenCert(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	var out bytes.Buffer
	now := time.Now()
	opts := genCertOptions{hosts: []string{"svc.example.com", "127.0.0.1", "::1"}, days: 30, outDir: dir, secretName: "team/app", client: true}
	if err := genCert(opts, now, &out); err != nil {
		t.Fatal(err)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	// cert.pem is the leaf alone, key.pem a PKCS#8 ECDSA P-256 key.
	certPEM, keyPEM := read("cert.pem"), read("key.pem")
	block, rest := pem.Decode(certPEM)
	if block == nil || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatal("cert.pem must hold exactly one certificate")
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil || kb.Type != "PRIVATE KEY" {
		t.Fatal("key.pem is not a PKCS#8 PEM block")
	}
	key, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := key.(*ecdsa.PrivateKey); !ok || k.Curve != elliptic.P256() {
		t.Fatalf("key is %T, want ECDSA P-256", key)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}

	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(read("ca.pem")) {
		t.Fatal("ca.pem holds no certificate")
	}
	leaf := pair.Leaf
	for _, name := range opts.hosts {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, CurrentTime: now}); err != nil {
			t.Errorf("verify for %s: %v", name, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "other.example.com", Roots: roots}); err == nil {
		t.Error("verified for a host not asked for")
	}
	if d := leaf.NotAfter.Sub(now); d < 30*24*time.Hour-time.Minute || d > 30*24*time.Hour+time.Minute {
		t.Errorf("validity ends in %s, want 30 days", d)
	}
	if err := checkValidity(leaf, now); err != nil {
		t.Error(err)
	}

	client, err := tls.X509KeyPair(read("client.pem"), read("client-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client certificate: %v", err)
	}

	// secret.json holds exactly the fields the constructs read, with the
	// same PEM as the files.
	var secret map[string]string
	if err := json.Unmarshal(read("secret.json"), &secret); err != nil {
		t.Fatal(err)
	}
	if len(secret) != 3 || secret["certificate"] != string(certPEM) || secret["privateKey"] != string(keyPEM) || secret["clientCA"] != string(read("ca.pem")) {
		t.Errorf("secret.json fields %v do not match cert.pem, key.pem and ca.pem", keys(secret))
	}

	for _, name := range []string{"key.pem", "client-key.pem", "secret.json"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, %v; want 0600", name, fi.Mode().Perm(), err)
		}
	}

	// The printed commands name the secrets, read the files, and never
	// contain key material.
	printed := out.String()
	for _, want := range []string{
		"arn=$(aws secretsmanager create-secret --name 'team/app' --secret-string 'file://" + filepath.Join(dir, "secret.json") + "' --query ARN --output text)",
		`cdk deploy PassthroughPublicServicesFargate --parameters CertificateSecretArn="$arn"`,
	} {
		if !strings.Contains(printed, want+"\n") {
			t.Errorf("output lacks %q:\n%s", want, printed)
		}
	}
	for _, secret := range [][]byte{keyPEM, read("client-key.pem")} {
		body := strings.Split(string(secret), "\n")[1]
		if strings.Contains(printed, "PRIVATE KEY") || strings.Contains(printed, body[:20]) {
			t.Error("key material printed")
		}
	}

	// Regenerating over existing files works and keeps keys private.
	if err := os.Chmod(filepath.Join(dir, "key.pem"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := genCert(opts, now, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "key.pem")); fi.Mode().Perm() != 0o600 {
		t.Errorf("regenerated key.pem mode %v", fi.Mode().Perm())
	}

	for _, bad := range []genCertOptions{{days: 1, outDir: dir}, {hosts: []string{"x"}, days: 0, outDir: dir}} {
		if err := genCert(bad, now, &bytes.Buffer{}); err == nil {
			t.Errorf("genCert(%+v) succeeded", bad)
		}
	}
}

// TestHealthcheckTLS12MutualTLS exercises the branch the server binary
// never takes (it negotiates TLS 1.3): under TLS 1.2 a server requiring a
// client certificate refuses the probe after sending its own certificate.
func TestHealthcheckTLS12MutualTLS(t *testing.T) {
	pki := newTestPKI(t)
	now := time.Now()
	// serve returns the address and the options that expect its certificate.
	serve := func(certPEM, keyPEM []byte) (string, healthOptions) {
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
			Certificates: []tls.Certificate{cert},
			MaxVersion:   tls.VersionTLS12,
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    pki.pool,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					_ = c.(*tls.Conn).Handshake()
				}()
			}
		}()
		return ln.Addr().String(), healthOptions{mtls: true, wantFingerprint: fingerprint(cert.Leaf.Raw), timeout: 2 * time.Second}
	}
	valid, opts := serve(pki.validServerPEM(t))
	expired, expiredOpts := serve(pki.serverPEM(t, now.Add(-48*time.Hour), now.Add(-time.Hour)))
	ctx := context.Background()

	if err := healthcheck(ctx, valid, opts, time.Now); err != nil {
		t.Errorf("valid certificate, client certificate refused: %v", err)
	}
	if err := healthcheck(ctx, expired, expiredOpts, time.Now); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired certificate: %v", err)
	}
	// Another valid certificate on the port is not the server's.
	other, _ := serve(pki.validServerPEM(t))
	if err := healthcheck(ctx, other, opts, time.Now); err == nil || !strings.Contains(err.Error(), "not the configured one") {
		t.Errorf("another certificate: %v", err)
	}
	// Without mutual TLS configured, a refusal is a failure.
	noMTLS := opts
	noMTLS.mtls = false
	if err := healthcheck(ctx, valid, noMTLS, time.Now); err == nil {
		t.Error("refused handshake counted as healthy without mutual TLS")
	}
	// The clock matters: a minute past NotAfter is unhealthy.
	later := func() time.Time { return now.Add(11 * 24 * time.Hour) }
	if err := healthcheck(ctx, valid, opts, later); err == nil {
		t.Error("healthy after NotAfter")
	}
	// A listener that is not TLS at all.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_, _ = c.Write([]byte("SSH-2.0-nope\r\n"))
			c.Close()
		}
	}()
	if err := healthcheck(ctx, ln.Addr().String(), opts, time.Now); err == nil {
		t.Error("non-TLS listener counted as healthy")
	}
}

func TestHealthOptionsPresentsUsableCert(t *testing.T) {
	pki := newTestPKI(t)
	now := time.Now()
	env := func(certPEM, keyPEM []byte) map[string]string {
		return map[string]string{"TLS_CERT": string(certPEM), "TLS_KEY": string(keyPEM), "TLS_CLIENT_CA": string(pki.caPEM)}
	}
	cfg, err := loadConfig(envMap(env(pki.validServerPEM(t))))
	if err != nil {
		t.Fatal(err)
	}
	if opts := healthOptionsFrom(cfg); !opts.mtls || opts.clientCert != nil {
		t.Errorf("server-auth-only certificate: mtls %v, presented %v", opts.mtls, opts.clientCert != nil)
	}
	cfg, err = loadConfig(envMap(env(pki.serverPEM(t, now.Add(-time.Hour), now.Add(time.Hour), x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth))))
	if err != nil {
		t.Fatal(err)
	}
	if opts := healthOptionsFrom(cfg); opts.clientCert == nil {
		t.Error("certificate usable for client auth not presented")
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
