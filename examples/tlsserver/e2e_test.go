package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestPassthrough covers (a) and (b): through a byte-copying proxy the
// client receives the very certificate the server loaded, shares one TLS
// session with it, and TLS 1.1 is refused by the server.
func TestPassthrough(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t)
	certPEM, keyPEM := pki.validServerPEM(t)
	srv := startServer(t, certEnv(certPEM, keyPEM)...)
	if want := pemFingerprint(t, certPEM); srv.certFP != want {
		t.Fatalf("server logged certificate %s, loaded PEM is %s", srv.certFP, want)
	}
	proxy := startTCPProxy(t, "127.0.0.1:0", srv.addr, proxyOptions{})

	for _, err := range runPassthroughChecks(proxy, srv.certFP, checkOptions{Roots: pki.pool}) {
		t.Error(err)
	}
}

// TestMutualTLS covers (c).
func TestMutualTLS(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t)
	certPEM, keyPEM := pki.validServerPEM(t)
	srv := startServer(t, append(certEnv(certPEM, keyPEM), "TLS_CLIENT_CA="+string(pki.caPEM))...)
	proxy := startTCPProxy(t, "127.0.0.1:0", srv.addr, proxyOptions{})
	client := pki.clientCert(t, "client-one")

	errs := runPassthroughChecks(proxy, srv.certFP, checkOptions{Roots: pki.pool, ClientCert: &client})
	for _, err := range errs {
		t.Error(err)
	}

	// The mtls-subject check passed; show the answer it compared.
	conn, err := dialTLS(proxy, &tls.Config{RootCAs: pki.pool, ServerName: "localhost", Certificates: []tls.Certificate{client}}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	got, _, err := getInfo(conn, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	if got.ClientSubject != "CN=client-one,O=Passthrough tests" {
		t.Errorf("client_subject = %q", got.ClientSubject)
	}

	// A certificate from another CA is refused too.
	other := newTestPKI(t).clientCert(t, "intruder")
	conn2, err := dialTLS(proxy, &tls.Config{RootCAs: pki.pool, ServerName: "localhost", Certificates: []tls.Certificate{other}}, 5*time.Second)
	if err == nil {
		_, _, err = getInfo(conn2, "localhost")
		conn2.Close()
	}
	if err == nil {
		t.Error("a client certificate from an unknown CA was accepted")
	}
}

// TestProxyProtocol covers (e): the server reports the client's address
// from the PROXY v2 header, and refuses a connection without one.
func TestProxyProtocol(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t)
	certPEM, keyPEM := pki.validServerPEM(t)
	env := append(certEnv(certPEM, keyPEM), "PROXY_PROTOCOL=v2")
	srv := startServer(t, env...)
	proxy := startTCPProxy(t, "127.0.0.1:0", srv.addr, proxyOptions{ProxyProtocolV2: true})

	for _, err := range runPassthroughChecks(proxy, srv.certFP, checkOptions{Roots: pki.pool, WantClientAddr: true}) {
		t.Error(err)
	}

	// Straight to the server, no header: refused.
	if conn, err := dialTLS(srv.addr, &tls.Config{InsecureSkipVerify: true}, 2*time.Second); err == nil {
		conn.Close()
		t.Error("connection without PROXY header was served")
	}

	// NLB health checks send a header and then close: no log line.
	for range 3 {
		c, err := net.Dial("tcp", srv.addr)
		if err != nil {
			t.Fatal(err)
		}
		if err := writeProxyHeader(c, nil, nil); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	// The healthcheck mode speaks PROXY protocol too.
	if code, out := runBinary(t, append(env, "PORT="+srv.port), "-healthcheck"); code != 0 {
		t.Errorf("healthcheck with PROXY_PROTOCOL=v2 exited %d: %s", code, out)
	}
	// A served request, plus a moment, lets late log lines land.
	mustGet(t, proxy, &tls.Config{RootCAs: pki.pool, ServerName: "localhost"})
	time.Sleep(100 * time.Millisecond)
	for _, line := range srv.stdout.jsonLines() {
		if msg, _ := line["msg"].(string); strings.HasSuffix(msg, "EOF") || strings.Contains(msg, "connection reset") {
			t.Errorf("health-check style connection logged: %v", line)
		}
	}
}

func mustGet(t *testing.T, addr string, cfg *tls.Config) *response {
	t.Helper()
	conn, err := dialTLS(addr, cfg, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	got, status, err := getInfo(conn, "localhost")
	if err != nil || status != http.StatusOK {
		t.Fatalf("GET /: status %d, %v", status, err)
	}
	return got
}

// TestNegativeControl runs the same checks through a TLS-terminating proxy
// and asserts that they fail, so the passthrough proof cannot pass by
// construction.
func TestNegativeControl(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t)
	certPEM, keyPEM := pki.validServerPEM(t)

	t.Run("terminating", func(t *testing.T) {
		srv := startServer(t, certEnv(certPEM, keyPEM)...)
		proxy := startTerminatingProxy(t, "127.0.0.1:0", srv.addr)
		errs := runPassthroughChecks(proxy, srv.certFP, checkOptions{Roots: pki.pool})
		failed := failedChecks(errs)
		t.Logf("failed checks through a TLS-terminating proxy: %v", failed)
		for _, err := range errs {
			t.Logf("  %v", err)
		}
		for _, want := range []string{"fingerprint", "chain", "channel-binding"} {
			if !slices.Contains(failed, want) {
				t.Errorf("check %q passed through a TLS-terminating proxy", want)
			}
		}
	})

	t.Run("terminating-mtls", func(t *testing.T) {
		srv := startServer(t, append(certEnv(certPEM, keyPEM), "TLS_CLIENT_CA="+string(pki.caPEM))...)
		proxy := startTerminatingProxy(t, "127.0.0.1:0", srv.addr)
		client := pki.clientCert(t, "client-one")
		failed := failedChecks(runPassthroughChecks(proxy, srv.certFP, checkOptions{Roots: pki.pool, ClientCert: &client}))
		t.Logf("failed checks through a TLS-terminating proxy with mutual TLS: %v", failed)
		for _, want := range []string{"fingerprint", "chain", "response"} {
			if !slices.Contains(failed, want) {
				t.Errorf("check %q passed through a TLS-terminating proxy", want)
			}
		}
	})

	t.Run("no-proxy-protocol", func(t *testing.T) {
		// Without PROXY protocol the server sees the proxy, not the
		// client: the client-addr check must notice.
		srv := startServer(t, certEnv(certPEM, keyPEM)...)
		proxy := startTCPProxy(t, "127.0.0.1:0", srv.addr, proxyOptions{})
		failed := failedChecks(runPassthroughChecks(proxy, srv.certFP, checkOptions{WantClientAddr: true}))
		if !slices.Equal(failed, []string{"client-addr"}) {
			t.Errorf("failed checks = %v, want [client-addr]", failed)
		}
	})
}

// TestGracefulShutdown covers (d): a request in flight at SIGTERM completes,
// new connections are refused, idle keep-alive connections are closed, and
// the process exits 0 within the shutdown timeout.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t)
	certPEM, keyPEM := pki.validServerPEM(t)
	srv := startServer(t, append(certEnv(certPEM, keyPEM), "DEBUG_SLOW_PATH=1", "SHUTDOWN_TIMEOUT_SECONDS=5")...)
	proxy := startTCPProxy(t, "127.0.0.1:0", srv.addr, proxyOptions{})
	clientCfg := &tls.Config{RootCAs: pki.pool, ServerName: "localhost"}

	// An idle keep-alive connection.
	idle, err := dialTLS(proxy, clientCfg, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	if _, status, err := getInfo(idle, "localhost"); err != nil || status != 200 {
		t.Fatalf("GET / = %d, %v", status, err)
	}

	// A request in flight: the status line arrives before the handler sleeps.
	slow, err := dialTLS(proxy, clientCfg, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	resp := slowRequest(t, slow, 1500*time.Millisecond)

	start := time.Now()
	srv.signal(t, syscall.SIGTERM)
	srv.waitLog(t, "phase", "stop_accepting")

	// New connections are refused once the listener is closed.
	refused := false
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", srv.addr, time.Second)
		if err != nil {
			refused = true
			break
		}
		c.Close()
	}
	if !refused {
		t.Error("server still accepts connections after stop_accepting")
	}
	// The idle connection is closed by the server, not left to time out.
	if _, err := idle.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("idle keep-alive connection: read = %v, want EOF", err)
	}

	body, err := io.ReadAll(resp.Body)
	if err != nil || string(body) != "done\n" {
		t.Errorf("in-flight request: body %q, err %v", body, err)
	}
	if code := srv.wait(6 * time.Second); code != 0 {
		t.Fatalf("exit code %d, want 0\n%s", code, srv.stdout)
	}
	elapsed := time.Since(start)
	if elapsed > 5*time.Second {
		t.Errorf("exit took %s, beyond SHUTDOWN_TIMEOUT_SECONDS=5", elapsed)
	}
	t.Logf("in-flight request of 1.5 s completed; process exited 0 %s after SIGTERM", elapsed.Round(time.Millisecond))

	var phases []string
	for _, line := range srv.stdout.jsonLines() {
		if p, ok := line["phase"].(string); ok {
			phases = append(phases, p)
		}
	}
	if want := []string{"signal", "stop_accepting", "complete"}; !slices.Equal(phases, want) {
		t.Errorf("logged phases %v, want %v", phases, want)
	}
}

// TestDrainAccept: with DRAIN_ACCEPT_SECONDS, connections made after
// SIGTERM are still served, with keep-alive off.
func TestDrainAccept(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t)
	certPEM, keyPEM := pki.validServerPEM(t)
	srv := startServer(t, append(certEnv(certPEM, keyPEM), "DRAIN_ACCEPT_SECONDS=1", "SHUTDOWN_TIMEOUT_SECONDS=5")...)

	start := time.Now()
	srv.signal(t, syscall.SIGTERM)
	srv.waitLog(t, "phase", "drain_accept")
	conn, err := dialTLS(srv.addr, &tls.Config{RootCAs: pki.pool, ServerName: "localhost"}, 5*time.Second)
	if err != nil {
		t.Fatalf("connection during the drain window: %v", err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !resp.Close {
		t.Errorf("during drain: status %d, Connection: close = %v; want 200 and close", resp.StatusCode, resp.Close)
	}
	if code := srv.wait(5 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if elapsed := time.Since(start); elapsed < time.Second {
		t.Errorf("exited after %s, before the 1 s drain window ended", elapsed)
	}
}

// TestShutdownTimeout: a request that outlives SHUTDOWN_TIMEOUT_SECONDS is
// cut, and the exit code says so.
func TestShutdownTimeout(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t)
	certPEM, keyPEM := pki.validServerPEM(t)
	srv := startServer(t, append(certEnv(certPEM, keyPEM), "DEBUG_SLOW_PATH=1", "SHUTDOWN_TIMEOUT_SECONDS=1")...)
	conn, err := dialTLS(srv.addr, &tls.Config{RootCAs: pki.pool, ServerName: "localhost"}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	resp := slowRequest(t, conn, 4*time.Second)
	start := time.Now()
	srv.signal(t, syscall.SIGTERM)
	if code := srv.wait(3 * time.Second); code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("exit took %s with SHUTDOWN_TIMEOUT_SECONDS=1", elapsed)
	}
	if body, err := io.ReadAll(resp.Body); err == nil {
		t.Errorf("cut request read fully: %q", body)
	}
	srv.waitLog(t, "phase", "timeout")
}

func slowRequest(t *testing.T, conn net.Conn, d time.Duration) *http.Response {
	t.Helper()
	fmt.Fprintf(conn, "GET /slow?d=%s HTTP/1.1\r\nHost: localhost\r\n\r\n", d)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET /slow: status %d", resp.StatusCode)
	}
	body := bufio.NewReader(resp.Body)
	line, err := body.ReadString('\n')
	if err != nil || line != "started\n" {
		t.Fatalf("GET /slow: first line %q, %v", line, err)
	}
	resp.Body = io.NopCloser(body) // the rest of the body
	return resp
}

// TestHealthcheckMode runs "tlsserver -healthcheck" as ECS would, in the
// server's environment, against a running server.
func TestHealthcheckMode(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t)
	now := time.Now()
	validCert, validKey := pki.validServerPEM(t)
	expiredCert, expiredKey := pki.serverPEM(t, now.Add(-48*time.Hour), now.Add(-time.Hour))
	futureCert, futureKey := pki.serverPEM(t, now.Add(time.Hour), now.Add(48*time.Hour))
	// A server certificate that is also a client certificate under the
	// client CA: the probe presents it and the handshake completes cleanly.
	dualCert, dualKey := pki.serverPEM(t, now.Add(-time.Hour), now.Add(time.Hour),
		x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth)
	mtls := "TLS_CLIENT_CA=" + string(pki.caPEM)
	client := pki.clientCert(t, "client-one")

	tests := []struct {
		name string
		env  []string
		want int
	}{
		{"valid", certEnv(validCert, validKey), 0},
		{"expired", certEnv(expiredCert, expiredKey), 1},
		{"not-yet-valid", certEnv(futureCert, futureKey), 1},
		{"mtls-valid", append(certEnv(validCert, validKey), mtls), 0},
		{"mtls-expired", append(certEnv(expiredCert, expiredKey), mtls), 1},
		{"mtls-valid-client-usable", append(certEnv(dualCert, dualKey), mtls), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startServer(t, tt.env...)
			code, out := runBinary(t, append(tt.env, "PORT="+srv.port), "-healthcheck")
			if code != tt.want {
				t.Errorf("exit %d, want %d: %s", code, tt.want, out)
			}
			t.Logf("exit %d: %s", code, strings.TrimSpace(out))
			if tt.want == 0 {
				// The probe must not show up as a warning in the server's
				// log. A request served afterwards, plus a moment, lets a
				// late log line from the probe's connection land first.
				cfg := &tls.Config{RootCAs: pki.pool, ServerName: "localhost"}
				if strings.HasPrefix(tt.name, "mtls") {
					cfg.Certificates = []tls.Certificate{client}
				}
				mustGet(t, srv.addr, cfg)
				time.Sleep(100 * time.Millisecond)
				for _, line := range srv.stdout.jsonLines() {
					if line["level"] == "WARN" || line["level"] == "ERROR" {
						t.Errorf("server logged %v", line)
					}
				}
			}
		})
	}

	// Another server with its own valid certificate on the port is not
	// healthy, whatever the options: the probe checks the fingerprint.
	for _, variant := range []struct {
		name string
		opts []string
	}{
		{"impostor", nil},
		{"impostor-mtls", []string{mtls}},
		{"impostor-proxy-protocol", []string{"PROXY_PROTOCOL=v2"}},
		{"impostor-mtls-proxy-protocol", []string{mtls, "PROXY_PROTOCOL=v2"}},
	} {
		t.Run(variant.name, func(t *testing.T) {
			env := append(certEnv(validCert, validKey), variant.opts...)
			otherCert, otherKey := pki.validServerPEM(t)
			impostor := startServer(t, append(certEnv(otherCert, otherKey), variant.opts...)...)
			code, out := runBinary(t, append(env, "PORT="+impostor.port), "-healthcheck")
			if code != 1 || !strings.Contains(out, "not the configured one") {
				t.Errorf("exit %d, want 1 naming the wrong certificate: %s", code, out)
			}
			own := startServer(t, env...)
			if code, out := runBinary(t, append(env, "PORT="+own.port), "-healthcheck"); code != 0 {
				t.Errorf("own server: exit %d: %s", code, out)
			}
		})
	}

	t.Run("server-down", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		ln.Close()
		code, out := runBinary(t, append(certEnv(validCert, validKey), "PORT="+port), "-healthcheck")
		if code != 1 {
			t.Errorf("exit %d, want 1: %s", code, out)
		}
	})
}

// TestMissingCertExits: the binary refuses to start without a certificate
// and says which variable is missing.
func TestMissingCertExits(t *testing.T) {
	t.Parallel()
	code, out := runBinary(t, []string{"PORT=0"})
	if code == 0 || !strings.Contains(out, "TLS_CERT") {
		t.Errorf("exit %d, output %q; want non-zero naming TLS_CERT", code, out)
	}
	pki := newTestPKI(t)
	certPEM, _ := pki.validServerPEM(t)
	code, out = runBinary(t, []string{"PORT=0", "TLS_CERT=" + string(certPEM)})
	if code == 0 || !strings.Contains(out, "TLS_KEY") {
		t.Errorf("exit %d, output %q; want non-zero naming TLS_KEY", code, out)
	}
}

// TestGenCertEndToEnd follows the README: generate with -gen-cert, run the
// server on the files, and check it through the proxy with mutual TLS.
func TestGenCertEndToEnd(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, out := runBinary(t, nil, "-gen-cert", "-out", dir, "-days", "2")
	if code != 0 {
		t.Fatalf("-gen-cert exited %d: %s", code, out)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	srv := startServer(t,
		"TLS_CERT_FILE="+filepath.Join(dir, "cert.pem"),
		"TLS_KEY_FILE="+filepath.Join(dir, "key.pem"),
		"TLS_CLIENT_CA_FILE="+filepath.Join(dir, "ca.pem"),
	)
	if want := pemFingerprint(t, read("cert.pem")); srv.certFP != want {
		t.Fatalf("server loaded %s, cert.pem is %s", srv.certFP, want)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(read("ca.pem"))
	client, err := tls.X509KeyPair(read("client.pem"), read("client-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	proxy := startTCPProxy(t, "127.0.0.1:0", srv.addr, proxyOptions{})
	for _, err := range runPassthroughChecks(proxy, srv.certFP, checkOptions{Roots: roots, ClientCert: &client}) {
		t.Error(err)
	}
}

// TestTCPCheckMissesWhatHealthcheckCatches: with an expired certificate the
// load balancer's TCP health check (a connection opened and closed) still
// passes, while the container health check fails. That is why the
// constructs offer ContainerHealthCheck.
func TestTCPCheckMissesWhatHealthcheckCatches(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t)
	now := time.Now()
	expiredCert, expiredKey := pki.serverPEM(t, now.Add(-48*time.Hour), now.Add(-time.Hour))
	env := certEnv(expiredCert, expiredKey)
	srv := startServer(t, env...)

	conn, err := net.DialTimeout("tcp", srv.addr, 2*time.Second)
	if err != nil {
		t.Fatalf("TCP check failed: %v; want it to pass, as an NLB's would", err)
	}
	conn.Close()
	if code, out := runBinary(t, append(env, "PORT="+srv.port), "-healthcheck"); code != 1 {
		t.Errorf("-healthcheck exit %d with an expired certificate, want 1: %s", code, out)
	}
}
