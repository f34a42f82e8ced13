package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

// The tests here run the server's tls.Config in-process, one real
// handshake over loopback per case: fast enough to try every key exchange
// and every cipher suite.

// tlsServer serves config on loopback: each connection handshakes, writes
// "ok" and closes; the server side's handshake errors arrive on errs.
type tlsServer struct {
	addr string
	errs chan error
}

func startTLSServer(tb testing.TB, config *tls.Config) *tlsServer {
	tb.Helper()
	ln := mustListen(tb, "127.0.0.1:0")
	s := &tlsServer{addr: ln.Addr().String(), errs: make(chan error, 1000)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				tc := tls.Server(c, config)
				if err := tc.Handshake(); err != nil {
					s.errs <- err
					return
				}
				_, _ = io.WriteString(tc, "ok")
			}()
		}
	}()
	tb.Cleanup(func() { ln.Close(); <-done })
	return s
}

// connect handshakes with config and reads the server's "ok", which under
// TLS 1.3 is also where a refused client certificate shows (the client's
// side of the handshake ends before the server has checked it) and where
// the session ticket arrives.
func (s *tlsServer) connect(config *tls.Config) (tls.ConnectionState, error) {
	conn, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	tc := tls.Client(conn, config)
	if err := tc.Handshake(); err != nil {
		return tls.ConnectionState{}, err
	}
	buf := make([]byte, 2)
	if _, err := io.ReadFull(tc, buf); err != nil {
		return tc.ConnectionState(), err
	}
	return tc.ConnectionState(), nil
}

// serverError returns the server side's next handshake error.
func (s *tlsServer) serverError(tb testing.TB) error {
	tb.Helper()
	select {
	case err := <-s.errs:
		return err
	case <-time.After(5 * time.Second):
		tb.Fatal("the server reported no handshake error")
		return nil
	}
}

func testConfig(tb testing.TB, certPEM, keyPEM []byte, clientCAs *x509.CertPool) *config {
	tb.Helper()
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		tb.Fatal(err)
	}
	return &config{cert: &cert, clientCAs: clientCAs}
}

// rsaServerPEM issues an RSA-2048 server certificate, for the ECDHE_RSA
// suites and the RSA handshake figures.
func (p *testPKI) rsaServerPEM(tb testing.TB) (certPEM, keyPEM []byte) {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now()
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "localhost"},
		DNSNames:    []string{"localhost"},
		NotBefore:   now.Add(-time.Hour),
		NotAfter:    now.Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, p.ca, key.Public(), p.caKey)
	if err != nil {
		tb.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	return pemCert(der), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

// TestKeyExchangeGroups: a client that offers a single key exchange group
// is served with it, for every group Go 1.26 supports by default: the
// post-quantum hybrids under TLS 1.3, and P-384 and P-521 too (an explicit
// CurvePreferences list used to refuse those). Go's own client, offering
// its defaults, gets the X25519MLKEM768 hybrid.
func TestKeyExchangeGroups(t *testing.T) {
	pki := newTestPKI(t)
	certPEM, keyPEM := pki.validServerPEM(t)
	srv := startTLSServer(t, serverTLSConfig(testConfig(t, certPEM, keyPEM, nil)))
	groups := []struct {
		id     tls.CurveID
		tls12  bool // also available under TLS 1.2
		hybrid bool
	}{
		{tls.X25519MLKEM768, false, true},
		{tls.SecP256r1MLKEM768, false, true},
		{tls.SecP384r1MLKEM1024, false, true},
		{tls.X25519, true, false},
		{tls.CurveP256, true, false},
		{tls.CurveP384, true, false},
		{tls.CurveP521, true, false},
	}
	for _, g := range groups {
		versions := []uint16{tls.VersionTLS13}
		if g.tls12 {
			versions = append(versions, tls.VersionTLS12)
		}
		for _, v := range versions {
			cs, err := srv.connect(&tls.Config{RootCAs: pki.pool, ServerName: "localhost", CurvePreferences: []tls.CurveID{g.id}, MaxVersion: v})
			switch {
			case err != nil:
				t.Errorf("%s client offering only %s: %v", tls.VersionName(v), g.id, err)
			case cs.CurveID != g.id:
				t.Errorf("%s client offering only %s: negotiated %s", tls.VersionName(v), g.id, cs.CurveID)
			}
		}
	}
	cs, err := srv.connect(&tls.Config{RootCAs: pki.pool, ServerName: "localhost"})
	if err != nil || cs.CurveID != tls.X25519MLKEM768 {
		t.Errorf("Go's default client: %v, %v; want X25519MLKEM768", cs.CurveID, err)
	}
}

// permissiveGoDefaults makes crypto/tls's own defaults as loose as GODEBUG
// allows (TLS 1.0 server floor, RSA key exchange, 3DES), so that what
// still holds is the server's own configuration, not Go's defaults.
func permissiveGoDefaults(t *testing.T) {
	t.Setenv("GODEBUG", "tls10server=1,tlsrsakex=1,tls3des=1")
}

// TestOnlyAEADSuites: under TLS 1.2, a client offering a single suite is
// served only if the suite is ECDHE with AEAD (AES-GCM, ChaCha20-Poly1305)
// and fits the certificate's key; every CBC, RC4, 3DES or RSA key exchange
// suite Go knows is refused, with ECDSA and RSA certificates alike.
func TestOnlyAEADSuites(t *testing.T) {
	permissiveGoDefaults(t)
	pki := newTestPKI(t)
	ecdsaCert, ecdsaKey := pki.validServerPEM(t)
	rsaCert, rsaKey := pki.rsaServerPEM(t)
	servers := map[string]*tlsServer{
		"ECDSA": startTLSServer(t, serverTLSConfig(testConfig(t, ecdsaCert, ecdsaKey, nil))),
		"RSA":   startTLSServer(t, serverTLSConfig(testConfig(t, rsaCert, rsaKey, nil))),
	}
	var served int
	for _, s := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		if !slices.Contains(s.SupportedVersions, tls.VersionTLS12) {
			continue // the TLS 1.3 suites, all AEAD and not configurable
		}
		for keyType, srv := range servers {
			aead := strings.Contains(s.Name, "_GCM_") || strings.Contains(s.Name, "_CHACHA20_POLY1305")
			want := aead && strings.HasPrefix(s.Name, "TLS_ECDHE_"+keyType+"_")
			_, err := srv.connect(&tls.Config{
				InsecureSkipVerify: true,
				MaxVersion:         tls.VersionTLS12,
				CipherSuites:       []uint16{s.ID},
			})
			switch {
			case want && err != nil:
				t.Errorf("%s certificate, client offering only %s: %v", keyType, s.Name, err)
			case !want && err == nil:
				t.Errorf("%s certificate, client offering only %s: served", keyType, s.Name)
			case want:
				served++
			}
		}
	}
	if served != len(aeadSuites) {
		t.Errorf("%d suites served, want the %d of aeadSuites", served, len(aeadSuites))
	}
}

// TestTLSFloor: TLS 1.0 and 1.1 clients are refused with a protocol_version
// alert, even with Go's server default loosened to TLS 1.0; the control
// shows the loosening took effect, so the refusal is the server's own
// MinVersion.
func TestTLSFloor(t *testing.T) {
	permissiveGoDefaults(t)
	pki := newTestPKI(t)
	certPEM, keyPEM := pki.validServerPEM(t)
	cfg := testConfig(t, certPEM, keyPEM, nil)
	srv := startTLSServer(t, serverTLSConfig(cfg))
	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
		_, err := srv.connect(&tls.Config{InsecureSkipVerify: true, MinVersion: v, MaxVersion: v})
		if !isRemoteAlert(err, "protocol version not supported") {
			t.Errorf("%s client: %v, want a protocol_version alert", tls.VersionName(v), err)
		}
	}
	control := startTLSServer(t, &tls.Config{Certificates: []tls.Certificate{*cfg.cert}})
	if _, err := control.connect(&tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10}); err != nil {
		t.Errorf("control: a server without MinVersion refused TLS 1.0 (%v): GODEBUG=tls10server=1 did not apply, so this test proves nothing", err)
	}
}

// clientPKI is a client CA with an intermediate, as client PKIs usually
// have.
type clientPKI struct {
	root      *testPKI
	inter     *x509.Certificate
	interKey  crypto.Signer
	interPool *x509.CertPool
}

func newClientPKI(tb testing.TB, interNotAfter time.Time) *clientPKI {
	tb.Helper()
	// The demo CA of newCA allows no intermediates (path length 0); this
	// root does.
	now := time.Now()
	ca, caKey := issueCA(tb, "client root", nil, nil, now.Add(-time.Hour), now.Add(24*time.Hour))
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	root := &testPKI{ca: ca, caKey: caKey, caPEM: pemCert(ca.Raw), pool: pool}
	inter, key := issueCA(tb, "client intermediate", root.ca, root.caKey, now.Add(-time.Hour), interNotAfter)
	return &clientPKI{root: root, inter: inter, interKey: key}
}

// issueCA issues a CA certificate under parent, or a self-signed root
// when parent is nil.
func issueCA(tb testing.TB, cn string, parent *x509.Certificate, parentKey crypto.Signer, notBefore, notAfter time.Time) (*x509.Certificate, crypto.Signer) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return c, key
}

// client issues a client certificate under the intermediate and returns it
// with the chain a client sends: leaf, then intermediate.
func (p *clientPKI) client(tb testing.TB, notAfter time.Time, eku ...x509.ExtKeyUsage) tls.Certificate {
	tb.Helper()
	if len(eku) == 0 {
		eku = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, key, err := issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "client"},
		NotBefore:   time.Now().Add(-time.Hour),
		NotAfter:    notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: eku,
	}, p.inter, p.interKey)
	if err != nil {
		tb.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der, p.inter.Raw}, PrivateKey: key}
}

func (p *clientPKI) server(tb testing.TB) *tlsServer {
	tb.Helper()
	certPEM, keyPEM := p.root.validServerPEM(tb)
	return startTLSServer(tb, serverTLSConfig(testConfig(tb, certPEM, keyPEM, p.root.pool)))
}

// TestClientChainVerification: under mutual TLS a chain through an
// intermediate is served; a chain longer than maxClientChain is refused
// before any signature is checked, even a valid one; so are a certificate
// not meant for client authentication and one from another CA.
func TestClientChainVerification(t *testing.T) {
	t.Parallel()
	p := newClientPKI(t, time.Now().Add(time.Hour))
	srv := p.server(t)
	connect := func(cert tls.Certificate) error {
		_, err := srv.connect(&tls.Config{RootCAs: p.root.pool, ServerName: "localhost", Certificates: []tls.Certificate{cert}})
		return err
	}

	good := p.client(t, time.Now().Add(time.Hour))
	if err := connect(good); err != nil {
		t.Fatalf("valid client chain: %v", err)
	}

	// Leaf, then a valid path of four intermediates: five certificates.
	parent, parentKey := p.root.ca, p.root.caKey
	var inters [][]byte
	for i := range maxClientChain {
		parent, parentKey = issueCA(t, "intermediate "+string(rune('A'+i)), parent, parentKey, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
		inters = append([][]byte{parent.Raw}, inters...)
	}
	long := (&clientPKI{root: p.root, inter: parent, interKey: parentKey}).client(t, time.Now().Add(time.Hour))
	long.Certificate = append(long.Certificate[:1], inters...)
	if err := connect(long); err == nil {
		t.Error("a chain of 5 certificates was served")
	} else if err := srv.serverError(t); !strings.Contains(err.Error(), "chain of 5 certificates refused") {
		t.Errorf("server error %v, want the chain length refused", err)
	}

	if err := connect(p.client(t, time.Now().Add(time.Hour), x509.ExtKeyUsageServerAuth)); err == nil {
		t.Error("a certificate for server authentication only was served")
	} else if err := srv.serverError(t); !strings.Contains(err.Error(), "incompatible key usage") {
		t.Errorf("server error %v, want the key usage refused", err)
	}

	other := newClientPKI(t, time.Now().Add(time.Hour))
	if err := connect(other.client(t, time.Now().Add(time.Hour))); err == nil {
		t.Error("a certificate from another CA was served")
	} else if err := srv.serverError(t); !errors.As(err, new(x509.UnknownAuthorityError)) {
		t.Errorf("server error %v, want an unknown authority", err)
	}
}

// TestResumptionAfterExpiryRefused: a session made with a valid client
// certificate resumes while the certificate is valid and is refused once
// it has expired, both when the leaf expires (crypto/tls itself declines
// to resume then, and the full handshake fails) and when only the
// intermediate does (crypto/tls resumes, and only VerifyConnection, which
// runs on resumed sessions too, refuses).
func TestResumptionAfterExpiryRefused(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"leaf expires", "intermediate expires"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// X.509 validity has one-second resolution: two seconds from
			// now is at least one second of validity.
			expiry, later := time.Now().Add(2*time.Second), time.Now().Add(time.Hour)
			leafExpiry, interExpiry := expiry, later
			if name == "intermediate expires" {
				leafExpiry, interExpiry = later, expiry
			}
			p := newClientPKI(t, interExpiry)
			srv := p.server(t)
			cfg := &tls.Config{
				RootCAs:            p.root.pool,
				ServerName:         "localhost",
				Certificates:       []tls.Certificate{p.client(t, leafExpiry)},
				ClientSessionCache: tls.NewLRUClientSessionCache(4),
			}
			if _, err := srv.connect(cfg); err != nil {
				t.Fatalf("first connection: %v", err)
			}
			cs, err := srv.connect(cfg)
			if err != nil || !cs.DidResume {
				t.Fatalf("second connection, certificate still valid: resumed %v, %v; want a resumed session", cs.DidResume, err)
			}

			time.Sleep(time.Until(expiry.Truncate(time.Second).Add(1100 * time.Millisecond)))
			cs, err = srv.connect(cfg)
			if err == nil {
				t.Fatalf("served after expiry (resumed %v)", cs.DidResume)
			}
			if err := srv.serverError(t); !strings.Contains(err.Error(), "expired") {
				t.Errorf("server error %v, want an expired certificate", err)
			}
		})
	}
}
