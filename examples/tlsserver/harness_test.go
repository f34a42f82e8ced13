package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// The harness below proves TLS passthrough from the client's side only: it
// needs the address clients connect to (the proxy, later an NLB listener
// port taken from a synthesized template), the fingerprint of the
// certificate the server loaded, and options. It returns failures instead of
// failing the test, so a negative control can assert that it does fail
// when a TLS-terminating hop sits in the path.

// proxyOptions configures startTCPProxy.
type proxyOptions struct {
	// ProxyProtocolV2 prefixes each upstream connection with a PROXY v2
	// header carrying the client's address, as an NLB target group with
	// proxy_protocol_v2.enabled does.
	ProxyProtocolV2 bool
}

// startTCPProxy stands in for an NLB TCP listener: it accepts on listenAddr
// (e.g. "127.0.0.1:0") and copies bytes both ways to targetAddr without
// looking at them. It returns the address it listens on; the proxy stops
// when the test ends.
func startTCPProxy(tb testing.TB, listenAddr, targetAddr string, opts proxyOptions) string {
	tb.Helper()
	return serveTCPProxy(tb, mustListen(tb, listenAddr), targetAddr, opts)
}

// serveTCPProxy is startTCPProxy on a listener the caller opened, e.g. on a
// port that had to be tried first.
func serveTCPProxy(tb testing.TB, ln net.Listener, targetAddr string, opts proxyOptions) string {
	tb.Helper()
	return serveProxy(tb, ln, func(client net.Conn) {
		upstream, err := net.DialTimeout("tcp", targetAddr, 5*time.Second)
		if err != nil {
			return
		}
		defer upstream.Close()
		if opts.ProxyProtocolV2 {
			// Source is the client as the proxy sees it; destination is
			// the listener address the client dialled.
			if err := writeProxyHeader(upstream, client.RemoteAddr(), client.LocalAddr()); err != nil {
				return
			}
		}
		pipe(client, upstream)
	})
}

// startTerminatingProxy is the negative control: a proxy that terminates
// TLS with a certificate of its own, freshly generated, and opens a new TLS
// session to targetAddr, as an ALB or a TLS listener would. Everything the
// client sees still works, but it is no longer talking to the server.
func startTerminatingProxy(tb testing.TB, listenAddr, targetAddr string) string {
	tb.Helper()
	pki := newTestPKI(tb)
	certPEM, keyPEM := pki.validServerPEM(tb)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		tb.Fatal(err)
	}
	front := &tls.Config{Certificates: []tls.Certificate{cert}}
	return startProxy(tb, listenAddr, func(client net.Conn) {
		tc := tls.Server(client, front)
		if err := tc.Handshake(); err != nil {
			return
		}
		d := &net.Dialer{Timeout: 5 * time.Second}
		upstream, err := tls.DialWithDialer(d, "tcp", targetAddr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			return
		}
		defer upstream.Close()
		pipe(tc, upstream)
	})
}

// startProxy runs handle for every connection accepted on listenAddr until
// the test ends, then closes the listener and the open connections and
// waits for the handlers.
func startProxy(tb testing.TB, listenAddr string, handle func(net.Conn)) string {
	tb.Helper()
	return serveProxy(tb, mustListen(tb, listenAddr), handle)
}

func mustListen(tb testing.TB, addr string) net.Listener {
	tb.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	return ln
}

// serveProxy is startProxy on an open listener, which it closes when the
// test ends.
func serveProxy(tb testing.TB, ln net.Listener, handle func(net.Conn)) string {
	tb.Helper()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{}
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = struct{}{}
			mu.Unlock()
			wg.Go(func() {
				defer func() {
					c.Close()
					mu.Lock()
					delete(conns, c)
					mu.Unlock()
				}()
				handle(c)
			})
		}
	})
	tb.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// pipe copies both ways until both directions are done, passing a
// half-close on as the NLB passes a FIN on.
func pipe(a, b net.Conn) {
	var wg sync.WaitGroup
	copyHalf := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		} else {
			_ = dst.Close()
		}
	}
	wg.Go(func() { copyHalf(a, b) })
	wg.Go(func() { copyHalf(b, a) })
	wg.Wait()
}

// checkOptions says what runPassthroughChecks expects of the service.
type checkOptions struct {
	ServerName string         // SNI and name to verify; default "localhost"
	Roots      *x509.CertPool // CA the served chain must verify against; nil skips "chain"
	// ClientCert turns on the mutual TLS checks: a client without a
	// certificate must be refused, one with ClientCert must be served and
	// named by its subject.
	ClientCert *tls.Certificate
	// WantClientAddr requires the server to report the client's own
	// address (PROXY protocol), not the proxy's.
	WantClientAddr bool
	Timeout        time.Duration // per connection; default 5 s
}

// checkError is one failed check; Check names it.
type checkError struct {
	Check string
	Err   error
}

func (e *checkError) Error() string { return e.Check + ": " + e.Err.Error() }

// failedChecks lists the names of the checks in errs.
func failedChecks(errs []error) []string {
	var names []string
	for _, err := range errs {
		var ce *checkError
		if errors.As(err, &ce) {
			names = append(names, ce.Check)
		}
	}
	return names
}

// runPassthroughChecks connects through proxyAddr and returns one
// *checkError per failed check:
//
//   - handshake: a TLS handshake succeeds and negotiates TLS 1.3;
//   - fingerprint: the leaf certificate received has the SHA-256
//     fingerprint wantFingerprint, i.e. it is the one the server loaded;
//   - chain: the chain verifies against opts.Roots for opts.ServerName;
//   - response: GET / answers 200 with the JSON the server writes;
//   - channel-binding: the server's tls-exporter value for its session
//     equals the client's, so both ends share one TLS session;
//   - tls11-refused: a client capped at TLS 1.1 is refused with a
//     protocol_version alert;
//   - mtls-no-cert-refused, mtls-subject: with opts.ClientCert;
//   - client-addr: with opts.WantClientAddr.
func runPassthroughChecks(proxyAddr, wantFingerprint string, opts checkOptions) []error {
	if opts.ServerName == "" {
		opts.ServerName = "localhost"
	}
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	var errs []error
	fail := func(check string, format string, args ...any) {
		errs = append(errs, &checkError{Check: check, Err: fmt.Errorf(format, args...)})
	}

	cfg := &tls.Config{ServerName: opts.ServerName, InsecureSkipVerify: true}
	if opts.ClientCert != nil {
		cfg.Certificates = []tls.Certificate{*opts.ClientCert}
	}
	conn, err := dialTLS(proxyAddr, cfg, opts.Timeout)
	if err != nil {
		fail("handshake", "%v", err)
		return append(errs, runRefusalChecks(proxyAddr, opts)...)
	}
	defer conn.Close()
	cs := conn.ConnectionState()
	if cs.Version != tls.VersionTLS13 {
		fail("handshake", "negotiated %s, want TLS 1.3", tls.VersionName(cs.Version))
	}
	leaf := cs.PeerCertificates[0]
	if got := fingerprint(leaf.Raw); got != wantFingerprint {
		fail("fingerprint", "received certificate %q with SHA-256 %s, server loaded %s", leaf.Subject, got, wantFingerprint)
	}
	if opts.Roots != nil {
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: opts.ServerName, Roots: opts.Roots, Intermediates: inter}); err != nil {
			fail("chain", "%v", err)
		}
	}

	got, status, err := getInfo(conn, opts.ServerName)
	switch {
	case err != nil:
		fail("response", "GET /: %v", err)
	case status != http.StatusOK:
		fail("response", "GET /: status %d", status)
	default:
		want, err := cs.ExportKeyingMaterial(channelBindingLabel, nil, 32)
		if err != nil || got.ChannelBinding != hex.EncodeToString(want) {
			fail("channel-binding", "server's session exporter %q differs from the client's %x: another TLS session sits in between", got.ChannelBinding, want)
		}
		if got.TLSVersion != tls.VersionName(cs.Version) {
			fail("response", "server reports %s, client negotiated %s", got.TLSVersion, tls.VersionName(cs.Version))
		}
		if opts.ClientCert != nil {
			sub := opts.ClientCert.Leaf.Subject.String()
			if got.ClientSubject != sub {
				fail("mtls-subject", "server reports client subject %q, want %q", got.ClientSubject, sub)
			}
		}
		if opts.WantClientAddr && got.RemoteAddr != conn.LocalAddr().String() {
			fail("client-addr", "server reports remote address %s, client is %s", got.RemoteAddr, conn.LocalAddr())
		}
	}
	return append(errs, runRefusalChecks(proxyAddr, opts)...)
}

// runRefusalChecks are the checks that expect the service to say no.
func runRefusalChecks(proxyAddr string, opts checkOptions) []error {
	var errs []error
	old := &tls.Config{
		ServerName:         opts.ServerName,
		InsecureSkipVerify: true,
		MinVersion:         tls.VersionTLS10,
		MaxVersion:         tls.VersionTLS11,
	}
	if conn, err := dialTLS(proxyAddr, old, opts.Timeout); err == nil {
		conn.Close()
		errs = append(errs, &checkError{"tls11-refused", fmt.Errorf("TLS 1.1 handshake succeeded")})
	} else if !isRemoteAlert(err, "protocol version not supported") {
		errs = append(errs, &checkError{"tls11-refused", fmt.Errorf("want a protocol_version alert, got %v", err)})
	}

	if opts.ClientCert != nil {
		anon := &tls.Config{ServerName: opts.ServerName, InsecureSkipVerify: true}
		// Under TLS 1.3 the client's handshake completes before the server
		// checks the client certificate; the refusal arrives on first read.
		conn, err := dialTLS(proxyAddr, anon, opts.Timeout)
		if err == nil {
			_, status, err := getInfo(conn, opts.ServerName)
			conn.Close()
			if err == nil {
				errs = append(errs, &checkError{"mtls-no-cert-refused", fmt.Errorf("served without a client certificate (status %d)", status)})
			}
		}
	}
	return errs
}

func dialTLS(addr string, cfg *tls.Config, timeout time.Duration) (*tls.Conn, error) {
	d := &net.Dialer{Timeout: timeout}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	tc := tls.Client(conn, cfg)
	if err := tc.Handshake(); err != nil {
		conn.Close()
		return nil, err
	}
	return tc, nil
}

// getInfo sends GET / on conn and decodes the server's JSON answer.
func getInfo(conn net.Conn, host string) (*response, int, error) {
	req := fmt.Sprintf("GET / HTTP/1.1\r\nHost: %s\r\n\r\n", host)
	if _, err := io.WriteString(conn, req); err != nil {
		return nil, 0, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, resp.StatusCode, err
	}
	var r response
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&r); err != nil {
		return nil, resp.StatusCode, fmt.Errorf("decode %q: %w", body, err)
	}
	return &r, resp.StatusCode, nil
}

func isRemoteAlert(err error, text string) bool {
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "remote error" && opErr.Err.Error() == "tls: "+text
}
