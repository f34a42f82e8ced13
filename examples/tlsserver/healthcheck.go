package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// healthOptions says how to reach the local server, mirroring its config.
type healthOptions struct {
	proxyProtocol   bool             // send a PROXY v2 LOCAL header first
	mtls            bool             // the server requires client certificates
	clientCert      *tls.Certificate // presented when the server asks; may be nil
	wantFingerprint string           // SHA-256 of the leaf the server must serve
	timeout         time.Duration
}

// healthOptionsFrom derives the probe from the server's own configuration,
// which the -healthcheck process reads from the same environment.
//
// With mutual TLS on, the probe presents the server's own key pair only if
// the client CA would accept it (it chains to TLS_CLIENT_CA and allows
// client authentication); otherwise it presents none. That is enough: see
// healthcheck for why a client-certificate rejection still proves health.
func healthOptionsFrom(cfg *config) healthOptions {
	opts := healthOptions{
		proxyProtocol:   cfg.proxyProtocol,
		mtls:            cfg.clientCAs != nil,
		wantFingerprint: fingerprint(cfg.cert.Leaf.Raw),
		timeout:         3 * time.Second,
	}
	if opts.mtls {
		inter := x509.NewCertPool()
		for _, der := range cfg.cert.Certificate[1:] {
			if c, err := x509.ParseCertificate(der); err == nil {
				inter.AddCert(c)
			}
		}
		_, err := cfg.cert.Leaf.Verify(x509.VerifyOptions{
			Roots:         cfg.clientCAs,
			Intermediates: inter,
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		})
		if err == nil {
			opts.clientCert = cfg.cert
		}
	}
	return opts
}

// healthcheck reports whether the server at addr completes a TLS 1.2+
// handshake with the configured certificate (the leaf's SHA-256
// fingerprint equals opts.wantFingerprint), and whether that certificate is
// valid now. It exists because the NLB's TCP health check passes as soon as
// the port accepts, even when the certificate has expired, TLS is broken,
// or another process holds the port.
//
// The chain is not verified: the probe dials 127.0.0.1, which is not a name
// in the certificate, and the CA that clients trust is their business. The
// fingerprint is the stronger check: any valid certificate would pass a
// chain check, only the configured one matches.
//
// Mutual TLS: when the probe has no acceptable client certificate, the
// handshake may fail after the server's Certificate message, only because
// the server rejects the (empty) client certificate. Under TLS 1.3 the probe
// does not even see that: the server sends its CertificateVerify and
// Finished before it reads the client's certificate, so the client side of
// the handshake completes, proving the server holds the key. Under TLS 1.2
// the server refuses with an alert instead (handshake_failure from Go,
// bad_certificate from some other stacks); the probe then counts the server
// as healthy if the certificate it already checked was the configured one
// and valid. Issuing the probe a client certificate of its own would mean
// shipping a second secret to every task for no stronger result.
func healthcheck(ctx context.Context, addr string, opts healthOptions, now func() time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, opts.timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	if opts.proxyProtocol {
		// LOCAL is the command a proxy uses for its own health checks:
		// the server keeps the real peer address.
		if err := writeProxyHeader(conn, nil, nil); err != nil {
			return fmt.Errorf("write proxy protocol header: %w", err)
		}
	}

	var certOK bool
	tc := tls.Client(conn, &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // see the doc comment: validity is checked below
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("server sent no certificate")
			}
			leaf := cs.PeerCertificates[0]
			if got := fingerprint(leaf.Raw); got != opts.wantFingerprint {
				return fmt.Errorf("the port serves certificate %q (SHA-256 %s), not the configured one (SHA-256 %s): another process holds it, or the server runs with another certificate",
					leaf.Subject, got, opts.wantFingerprint)
			}
			if err := checkValidity(leaf, now()); err != nil {
				return err
			}
			certOK = true
			return nil
		},
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if opts.clientCert != nil {
				return opts.clientCert, nil
			}
			return &tls.Certificate{}, nil
		},
	})
	err = tc.HandshakeContext(ctx)
	if err == nil || (certOK && opts.mtls && isClientCertRejection(err)) {
		return nil
	}
	return err
}

func checkValidity(leaf *x509.Certificate, now time.Time) error {
	switch {
	case now.Before(leaf.NotBefore):
		return fmt.Errorf("certificate %q is not valid before %s", leaf.Subject, leaf.NotBefore.UTC().Format(time.RFC3339))
	case !now.Before(leaf.NotAfter):
		return fmt.Errorf("certificate %q expired at %s", leaf.Subject, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}

// isClientCertRejection reports whether err is an alert the server sends
// when it refuses the client's certificate. It is only consulted after the
// server's own certificate has been received and found valid, the point
// from which a TLS 1.2 server is waiting on the client's certificate.
// crypto/tls does not export its alert type for TCP connections, so this
// matches the alert's text.
func isClientCertRejection(err error) bool {
	var opErr *net.OpError
	if !errors.As(err, &opErr) || opErr.Op != "remote error" {
		return false
	}
	switch strings.TrimPrefix(opErr.Err.Error(), "tls: ") {
	case "handshake failure", "bad certificate", "certificate required":
		return true
	}
	return false
}
