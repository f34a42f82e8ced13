package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"io"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// newCert makes a self-signed certificate for names, valid from notBefore
// to notAfter.
func newCert(t *testing.T, names []string, notBefore, notAfter time.Time) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IsCA:         true,
		// A CA too, so that the same certificate can stand in as the
		// client CA of the mutual TLS server.
		BasicConstraintsValid: true,
	}
	tmpl.KeyUsage |= x509.KeyUsageCertSign
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// serve starts a TLS server on loopback with cert (and, with clientCAs, a
// demand for a client certificate), and returns its address and a counter
// of handshakes that completed. It stops with the test.
func serve(t *testing.T, cert tls.Certificate, clientCAs *x509.CertPool, version uint16) (string, *atomic.Int32) {
	t.Helper()
	conf := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: version, MaxVersion: version}
	if clientCAs != nil {
		conf.ClientCAs = clientCAs
		conf.ClientAuth = tls.RequireAndVerifyClientCert
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var completed atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				if c.(*tls.Conn).Handshake() == nil {
					completed.Add(1)
				}
			}()
		}
	}()
	return ln.Addr().String(), &completed
}

func fingerprint(c tls.Certificate) string {
	sum := sha256.Sum256(c.Certificate[0])
	return hex.EncodeToString(sum[:])
}

func config(addr string) Config {
	return Config{Address: addr, ServerNames: []string{"api.example.com"}, MinDaysLeft: 21, Connections: 2, Timeout: 5 * time.Second}
}

func TestCheckPassesAGoodCertificateAndRefusesBadOnes(t *testing.T) {
	now := time.Now()
	good := newCert(t, []string{"api.example.com"}, now.Add(-time.Hour), now.Add(90*24*time.Hour))
	other := newCert(t, []string{"other.example.com"}, now.Add(-time.Hour), now.Add(90*24*time.Hour))
	soon := newCert(t, []string{"api.example.com"}, now.Add(-time.Hour), now.Add(10*24*time.Hour))
	expired := newCert(t, []string{"api.example.com"}, now.Add(-48*time.Hour), now.Add(-time.Hour))
	future := newCert(t, []string{"api.example.com"}, now.Add(24*time.Hour), now.Add(90*24*time.Hour))

	cases := []struct {
		name   string
		cert   tls.Certificate
		adjust func(c *Config)
		want   string // "" passes; else a substring of the error
	}{
		{"good certificate", good, nil, ""},
		{"good certificate with its fingerprint", good, func(c *Config) { c.Fingerprints = []string{fingerprint(good)} }, ""},
		{"another name", other, nil, "is not valid for api.example.com"},
		{"within the expiry threshold", soon, nil, "fewer than 21"},
		{"expired", expired, nil, "certificate expired at"},
		{"not yet valid", future, nil, "is not valid before"},
		{"valid but not the configured one", other, func(c *Config) {
			c.ServerNames = []string{"other.example.com"}
			c.Fingerprints = []string{fingerprint(good)}
		}, "is not one of the configured certificates"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr, _ := serve(t, tc.cert, nil, tls.VersionTLS13)
			c := config(addr)
			if tc.adjust != nil {
				tc.adjust(&c)
			}
			err := Check(context.Background(), c, time.Now)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Check failed: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("Check passed, want an error containing %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

// Under mutual TLS the server demands a client certificate; the check has
// none and needs none, in TLS 1.3 and 1.2, and never completes a session.
func TestCheckTakesTheCertificateBeforeClientAuthentication(t *testing.T) {
	now := time.Now()
	server := newCert(t, []string{"api.example.com"}, now.Add(-time.Hour), now.Add(90*24*time.Hour))
	clientCA := newCert(t, []string{"client-ca.example.com"}, now.Add(-time.Hour), now.Add(90*24*time.Hour))
	pool := x509.NewCertPool()
	pool.AddCert(clientCA.Leaf)
	for _, version := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			addr, completed := serve(t, server, pool, version)
			if err := Check(context.Background(), config(addr), time.Now); err != nil {
				t.Fatalf("Check failed against a mutual TLS server: %v", err)
			}
			time.Sleep(100 * time.Millisecond)
			if n := completed.Load(); n != 0 {
				t.Fatalf("%d handshakes completed; the check must stop at the server's certificate", n)
			}
		})
	}
}

func TestCheckFailsWhenNothingListens(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	err = Check(context.Background(), config(addr), time.Now)
	if err == nil || !strings.Contains(err.Error(), "connection 1 to "+addr) {
		t.Fatalf("got %v, want a connection error naming %s", err, addr)
	}
}

func TestHookReportsSucceededOrFailedAndFailsWhenMisconfigured(t *testing.T) {
	now := time.Now()
	good := newCert(t, []string{"api.example.com"}, now.Add(-time.Hour), now.Add(90*24*time.Hour))
	bad := newCert(t, []string{"other.example.com"}, now.Add(-time.Hour), now.Add(90*24*time.Hour))
	goodAddr, _ := serve(t, good, nil, tls.VersionTLS13)
	badAddr, _ := serve(t, bad, nil, tls.VersionTLS13)
	env := func(addr string) func(string) string {
		m := map[string]string{EnvAddress: addr, EnvServerNames: "api.example.com", EnvMinDaysLeft: "21"}
		return func(k string) string { return m[k] }
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	for _, tc := range []struct {
		name   string
		getenv func(string) string
		want   string
	}{
		{"good certificate", env(goodAddr), statusSucceeded},
		{"bad certificate", env(badAddr), statusFailed},
		{"no address", func(string) string { return "" }, statusFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, cerr := configFromEnv(tc.getenv)
			if got := handle(context.Background(), log, c, cerr, hookEvent{}).HookStatus; got != tc.want {
				t.Fatalf("hookStatus %s, want %s", got, tc.want)
			}
		})
	}
}

func TestConfigFromEnvRefusesWhatItCannotCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no address", map[string]string{EnvServerNames: "a"}, "TLSCHECK_ADDRESS is not set"},
		{"no names", map[string]string{EnvAddress: "h:1"}, "TLSCHECK_SERVER_NAMES is not set"},
		{"bad days", map[string]string{EnvAddress: "h:1", EnvServerNames: "a", EnvMinDaysLeft: "x"}, `TLSCHECK_MIN_DAYS_LEFT="x" is not a number of days`},
		{"bad connections", map[string]string{EnvAddress: "h:1", EnvServerNames: "a", EnvConnections: "0"}, `TLSCHECK_CONNECTIONS="0" is not a positive number`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := configFromEnv(func(k string) string { return tc.env[k] })
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got %v, want %s", err, tc.want)
			}
		})
	}
	c, err := configFromEnv(func(k string) string {
		return map[string]string{EnvAddress: "h:1", EnvServerNames: "a, b", EnvFingerprints: "AB:CD"}[k]
	})
	if err != nil || c.Connections != defaultConnections || len(c.ServerNames) != 2 || c.Fingerprints[0] != "abcd" {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
}

func TestCLIExitsZeroOnAGoodCertificateAndOneOnABadOne(t *testing.T) {
	now := time.Now()
	good := newCert(t, []string{"api.example.com"}, now.Add(-time.Hour), now.Add(90*24*time.Hour))
	addr, _ := serve(t, good, nil, tls.VersionTLS13)
	var out bytes.Buffer
	if code := runCLI([]string{"-address", addr, "-names", "api.example.com", "-min-days", "21"}, &out, io.Discard); code != 0 {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	if code := runCLI([]string{"-address", addr, "-names", "api.example.com", "-min-days", "120"}, &out, io.Discard); code != 1 {
		t.Fatalf("exit %d with a 120-day threshold, want 1", code)
	}
}
