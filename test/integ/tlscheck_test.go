package integ

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

type testCert struct {
	tls         tls.Certificate
	fingerprint string
	pool        *x509.CertPool
}

func newTestCert(t *testing.T, cn string) testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return testCert{tls: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, fingerprint: Fingerprint(der), pool: pool}
}

// exampleAnswer is what the example server answers to GET /: the test
// servers here answer the same, so Observe reads it as it would on AWS.
func exampleAnswer(task string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"task": task, "tls_version": "TLS 1.3"})
	})
}

// serveTLS starts an HTTPS server on loopback; clientCAs turns mutual TLS
// on; drop, when set, closes each connection for which it returns true
// before the handshake.
func serveTLS(t *testing.T, cert testCert, clientCAs *x509.CertPool, handler http.Handler, drop func() bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conf := &tls.Config{Certificates: []tls.Certificate{cert.tls}}
	if clientCAs != nil {
		conf.ClientAuth, conf.ClientCAs = tls.RequireAndVerifyClientCert, clientCAs
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(tls.NewListener(&droppingListener{Listener: ln, drop: drop}, conf))
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

type droppingListener struct {
	net.Listener
	drop func() bool
}

func (l *droppingListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil || l.drop == nil || !l.drop() {
			return c, err
		}
		c.Close()
	}
}

func TestObserveReadsTheServedCertificateAndTheAnsweringTask(t *testing.T) {
	cert := newTestCert(t, "orders.svc.passthrough.example")
	addr := serveTLS(t, cert, nil, exampleAnswer("4f9e8d7c"), nil)
	o := Dialer{Timeout: 5 * time.Second}.Observe(context.Background(), addr)
	if err := o.Check(cert.fingerprint); err != nil {
		t.Fatal(err)
	}
	if o.Task != "4f9e8d7c" || o.Version != "TLS 1.3" || o.Subject != "CN=orders.svc.passthrough.example" {
		t.Errorf("observation %+v", o)
	}
	// During a rotation either certificate passes.
	if err := o.Check(strings.Repeat("0", 64), cert.fingerprint); err != nil {
		t.Errorf("with two accepted fingerprints: %v", err)
	}
}

func TestCheckFailsOnAnotherCertificate(t *testing.T) {
	served, expected := newTestCert(t, "impostor"), newTestCert(t, "api")
	addr := serveTLS(t, served, nil, exampleAnswer("t"), nil)
	o := Dialer{}.Observe(context.Background(), addr)
	err := o.Check(expected.fingerprint)
	if want := `served "CN=impostor" with SHA-256 ` + served.fingerprint + ", want " + expected.fingerprint; err == nil || err.Error() != want {
		t.Errorf("error %v\nwant %s", err, want)
	}
}

func TestCheckFailsWhenTheServerDoesNotAnswer(t *testing.T) {
	cert := newTestCert(t, "api")
	addr := serveTLS(t, cert, nil, http.NotFoundHandler(), nil)
	if err := (Dialer{}).Observe(context.Background(), addr).Check(cert.fingerprint); err == nil || !strings.Contains(err.Error(), "GET / answered 404 Not Found") {
		t.Errorf("error %v, want the 404 named", err)
	}
}

// The Partners listener requires a client certificate: without one the
// connection fails, with the run's client certificate it passes.
func TestObservePresentsTheClientCertificate(t *testing.T) {
	server, client := newTestCert(t, "partners"), newTestCert(t, "passthrough-demo-client")
	addr := serveTLS(t, server, client.pool, exampleAnswer("t"), nil)
	if err := (Dialer{}).Observe(context.Background(), addr).Check(server.fingerprint); err == nil {
		t.Error("passed without a client certificate")
	}
	if err := (Dialer{ClientCert: &client.tls}).Observe(context.Background(), addr).Check(server.fingerprint); err != nil {
		t.Errorf("with the client certificate: %v", err)
	}
}

// A listener that admits no internet client: nothing answering passes, a
// server answering fails.
func TestCheckRefused(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln.Addr().String()
	ln.Close()
	if err := (Dialer{Timeout: time.Second}).Observe(context.Background(), closed).CheckRefused(); err != nil {
		t.Errorf("closed port: %v", err)
	}
	// .invalid never resolves (RFC 6761).
	if err := (Dialer{Timeout: 5 * time.Second}).Observe(context.Background(), "lb.passthrough.invalid:8443").CheckRefused(); err == nil || !strings.HasPrefix(err.Error(), "not a refusal: ") {
		t.Errorf("unresolvable name: %v", err)
	}
	cert := newTestCert(t, "internal")
	addr := serveTLS(t, cert, nil, exampleAnswer("t"), nil)
	err := (Dialer{}).Observe(context.Background(), addr).CheckRefused()
	if err == nil || !strings.HasPrefix(err.Error(), `a server answered with "CN=internal"`) {
		t.Errorf("open listener: %v", err)
	}
}

// The client loop of a rolling deployment counts every failed connection,
// stops when told and never exceeds its bound.
func TestLoopCountsFailuresAndIsBounded(t *testing.T) {
	cert := newTestCert(t, "api")
	var n atomic.Int32
	addr := serveTLS(t, cert, nil, exampleAnswer("task-a"), func() bool { return n.Add(1) == 3 })
	d := Dialer{Timeout: 2 * time.Second}
	attempt := func(ctx context.Context) Observation { return d.Observe(ctx, addr) }

	r := Loop(context.Background(), time.Millisecond, 6, nil, attempt, cert.fingerprint)
	if len(r.Attempts) != 6 || r.Failed() != 1 {
		t.Fatalf("%d attempts, %d failed; want 6 and the third: %s", len(r.Attempts), r.Failed(), r.Summary())
	}
	if !strings.HasPrefix(r.Summary(), "1 of 6 connections failed: ") {
		t.Errorf("summary %q", r.Summary())
	}
	if last := r.LastAnswers()["task-a"]; !last.Equal(r.Attempts[5].At) {
		t.Errorf("last answer of task-a at %s, want the sixth attempt's %s", last, r.Attempts[5].At)
	}

	done := make(chan struct{})
	close(done)
	if r := Loop(context.Background(), time.Hour, 100, done, attempt, cert.fingerprint); len(r.Attempts) != 1 {
		t.Errorf("%d attempts after done was closed, want 1", len(r.Attempts))
	}
}
