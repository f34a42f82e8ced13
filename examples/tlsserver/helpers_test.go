package main

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// serverBin is the server binary, built once by TestMain, so the end-to-end
// tests exercise the real process: its environment parsing, signal handling
// and exit code.
var serverBin string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "tlsserver-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		serverBin = filepath.Join(dir, "tlsserver")
		build := exec.Command("go", "build", "-o", serverBin, ".")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building the server:", err)
			return 1
		}
		return m.Run()
	}())
}

// testPKI is a throwaway CA; every key in the tests is generated at run
// time, none is committed.
type testPKI struct {
	ca    *x509.Certificate
	caKey crypto.Signer
	caPEM []byte
	pool  *x509.CertPool
}

func newTestPKI(tb testing.TB) *testPKI {
	tb.Helper()
	now := time.Now()
	ca, key, err := newCA("test CA", now.Add(-time.Hour), now.Add(24*time.Hour))
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &testPKI{ca: ca, caKey: key, caPEM: pemCert(ca.Raw), pool: pool}
}

// serverPEM issues a certificate for localhost and 127.0.0.1, valid from
// notBefore to notAfter, with the given extended key usages (server auth if
// none).
func (p *testPKI) serverPEM(tb testing.TB, notBefore, notAfter time.Time, eku ...x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
	tb.Helper()
	if len(eku) == 0 {
		eku = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	return p.issuePEM(tb, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "localhost"},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:   notBefore,
		NotAfter:    notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: eku,
	})
}

func (p *testPKI) validServerPEM(tb testing.TB) (certPEM, keyPEM []byte) {
	now := time.Now()
	return p.serverPEM(tb, now.Add(-time.Hour), now.Add(10*24*time.Hour))
}

func (p *testPKI) clientCert(tb testing.TB, cn string) tls.Certificate {
	tb.Helper()
	now := time.Now()
	certPEM, keyPEM := p.issuePEM(tb, &x509.Certificate{
		Subject:     pkix.Name{CommonName: cn, Organization: []string{"Passthrough tests"}},
		NotBefore:   now.Add(-time.Hour),
		NotAfter:    now.Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		tb.Fatal(err)
	}
	return cert
}

func (p *testPKI) issuePEM(tb testing.TB, tmpl *x509.Certificate) (certPEM, keyPEM []byte) {
	tb.Helper()
	der, key, err := issue(tmpl, p.ca, p.caKey)
	if err != nil {
		tb.Fatal(err)
	}
	keyPEM, err = pkcs8PEM(key)
	if err != nil {
		tb.Fatal(err)
	}
	return pemCert(der), keyPEM
}

func pemFingerprint(tb testing.TB, certPEM []byte) string {
	tb.Helper()
	block, _ := pem.Decode(certPEM)
	if block == nil {
		tb.Fatal("no PEM block")
	}
	return fingerprint(block.Bytes)
}

func certEnv(certPEM, keyPEM []byte) []string {
	return []string{"TLS_CERT=" + string(certPEM), "TLS_KEY=" + string(keyPEM)}
}

// serverProc is a running server binary.
type serverProc struct {
	cmd    *exec.Cmd
	addr   string // 127.0.0.1:port
	port   string
	certFP string // cert_sha256 from the server's "listening" line
	stdout *lineLog
	stderr bytes.Buffer
	exited chan struct{}
}

// startServer runs the server binary with exactly env (nothing inherited,
// PORT=0 unless env sets PORT) and waits until it logs that it listens.
func startServer(tb testing.TB, env ...string) *serverProc {
	tb.Helper()
	s, err := tryStartServer(tb, env...)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// tryStartServer is startServer returning the failure to start (with the
// process's output) instead of failing the test, so a caller can retry,
// e.g. on another port when binding PORT failed.
func tryStartServer(tb testing.TB, env ...string) (*serverProc, error) {
	tb.Helper()
	if !hasKey(env, "PORT") {
		env = append(env, "PORT=0")
	}
	// Tests only ever listen on loopback.
	if !hasKey(env, "HOST") {
		env = append(env, "HOST=127.0.0.1")
	}
	s := &serverProc{stdout: newLineLog(), exited: make(chan struct{})}
	s.cmd = exec.Command(serverBin)
	s.cmd.Env = env
	s.cmd.Stdout, s.cmd.Stderr = s.stdout, &s.stderr
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	tb.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	})

	line, err := s.stdout.wait(5*time.Second, s.exited, func(m map[string]any) bool { return m["msg"] == "listening" })
	if err != nil {
		return nil, fmt.Errorf("server did not start: %v\nstdout:\n%s\nstderr:\n%s", err, s.stdout, &s.stderr)
	}
	addr, _ := line["addr"].(string)
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("server logged listening address %q: %v", addr, err)
	}
	s.port = port
	s.addr = net.JoinHostPort("127.0.0.1", port)
	s.certFP, _ = line["cert_sha256"].(string)
	return s, nil
}

func (s *serverProc) signal(tb testing.TB, sig syscall.Signal) {
	tb.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		tb.Fatal(err)
	}
}

// wait returns the exit code, or -1 if the process has not exited in time.
func (s *serverProc) wait(timeout time.Duration) int {
	select {
	case <-s.exited:
		return s.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		return -1
	}
}

// waitLog waits for a JSON log line with msg or phase equal to what.
func (s *serverProc) waitLog(tb testing.TB, key, value string) map[string]any {
	tb.Helper()
	line, err := s.stdout.wait(5*time.Second, nil, func(m map[string]any) bool { return m[key] == value })
	if err != nil {
		tb.Fatalf("no log line with %s=%q: %v\nstdout:\n%s", key, value, err, s.stdout)
	}
	return line
}

// lineLog collects a process's stdout as lines and wakes waiters on each.
type lineLog struct {
	mu      sync.Mutex
	partial []byte
	lines   []string
	changed chan struct{}
}

func newLineLog() *lineLog { return &lineLog{changed: make(chan struct{})} }

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.lines = append(l.lines, string(l.partial[:i]))
		l.partial = l.partial[i+1:]
	}
	close(l.changed)
	l.changed = make(chan struct{})
	return len(p), nil
}

func (l *lineLog) snapshot() ([]string, chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...), l.changed
}

// jsonLines returns the lines that parse as JSON objects.
func (l *lineLog) jsonLines() []map[string]any {
	lines, _ := l.snapshot()
	var out []map[string]any
	for _, line := range lines {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

func (l *lineLog) String() string {
	lines, _ := l.snapshot()
	return strings.Join(lines, "\n")
}

// wait returns the first JSON line matching match, giving up after timeout
// or once gone is closed. exec.Cmd.Wait copies all output before it
// returns, so after gone closes nothing more arrives.
func (l *lineLog) wait(timeout time.Duration, gone <-chan struct{}, match func(map[string]any) bool) (map[string]any, error) {
	deadline := time.After(timeout)
	for {
		lines, changed := l.snapshot()
		for _, line := range lines {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && match(m) {
				return m, nil
			}
		}
		select {
		case <-changed:
		case <-gone:
			if m := l.find(match); m != nil {
				return m, nil
			}
			return nil, errors.New("process exited")
		case <-deadline:
			return nil, fmt.Errorf("timed out after %s", timeout)
		}
	}
}

func (l *lineLog) find(match func(map[string]any) bool) map[string]any {
	for _, m := range l.jsonLines() {
		if match(m) {
			return m
		}
	}
	return nil
}

func hasKey(env []string, key string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, key+"=") {
			return true
		}
	}
	return false
}

// runBinary runs the server binary in another mode and returns its exit
// code and combined output.
func runBinary(tb testing.TB, env []string, args ...string) (int, string) {
	tb.Helper()
	cmd := exec.Command(serverBin, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		tb.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), string(out)
}
