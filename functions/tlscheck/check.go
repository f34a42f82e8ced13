package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"
)

// Config is what the check verifies, read from the function's environment
// (see configFromEnv) or from flags when run by hand.
type Config struct {
	// Address is HOST:PORT of the test listener.
	Address string
	// ServerNames the certificate must be valid for; the first is sent as
	// the TLS server name (SNI).
	ServerNames []string
	// MinDaysLeft is how many days the certificate must still be valid for:
	// the threshold of the service's certificate expiry alarm, so that a
	// deployment never moves production traffic to a certificate the alarm
	// would fire on.
	MinDaysLeft int
	// Fingerprints, if any, are the SHA-256 fingerprints (lower-case hex) of
	// the leaf certificates the service may present: with them, the check
	// proves it is the configured certificate, not just a valid one.
	Fingerprints []string
	// Connections is how many connections are checked, each one through the
	// listener to whichever new task the load balancer picks: every one
	// must pass.
	Connections int
	// Timeout of one connection (TCP connect and the handshake up to the
	// server's certificate).
	Timeout time.Duration
}

// errTaken ends the handshake once the server's certificate is in hand.
var errTaken = errors.New("tlscheck: server certificate taken")

// takeCertificate connects to address and returns the certificate chain
// the server presents, leaf first. It stops the handshake as soon as the
// chain arrives: in TLS 1.3 and 1.2 alike the server sends its certificate
// before the client sends one (RFC 8446 section 4.4, RFC 5246 section 7.3),
// so a server that requires client certificates (mutual TLS) is checked
// without a client key, and the check never completes a session it could
// send data on.
func takeCertificate(ctx context.Context, address, serverName string, timeout time.Duration) ([]*x509.Certificate, error) {
	var chain []*x509.Certificate
	conf := &tls.Config{
		ServerName: serverName,
		MinVersion: tls.VersionTLS12,
		// Verification is this program's own (Check), on the chain taken
		// below: it checks names and expiry, and the fingerprints when
		// given, whether or not the chain leads to a public root.
		InsecureSkipVerify: true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			for _, der := range raw {
				c, err := x509.ParseCertificate(der)
				if err != nil {
					return fmt.Errorf("tlscheck: unreadable certificate: %w", err)
				}
				chain = append(chain, c)
			}
			return errTaken
		},
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d := &tls.Dialer{NetDialer: &net.Dialer{}, Config: conf}
	conn, err := d.DialContext(ctx, "tcp", address)
	if err == nil {
		conn.Close()
		return nil, errors.New("handshake completed without a server certificate")
	}
	if !errors.Is(err, errTaken) {
		return nil, err
	}
	if len(chain) == 0 {
		return nil, errors.New("the server presented no certificate")
	}
	return chain, nil
}

// verify reports what is wrong with a leaf certificate, or nil.
func verify(leaf *x509.Certificate, c Config, now time.Time) error {
	if len(c.Fingerprints) > 0 {
		sum := sha256.Sum256(leaf.Raw)
		got := hex.EncodeToString(sum[:])
		if !slices.Contains(c.Fingerprints, got) {
			return fmt.Errorf("certificate %s (subject %q) is not one of the configured certificates", got, leaf.Subject.String())
		}
	}
	for _, name := range c.ServerNames {
		if err := leaf.VerifyHostname(name); err != nil {
			return fmt.Errorf("certificate is not valid for %s: %v", name, err)
		}
	}
	if now.Before(leaf.NotBefore) {
		return fmt.Errorf("certificate is not valid before %s", leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	left := leaf.NotAfter.Sub(now)
	if min := time.Duration(c.MinDaysLeft) * 24 * time.Hour; left < min {
		if left <= 0 {
			return fmt.Errorf("certificate expired at %s", leaf.NotAfter.UTC().Format(time.RFC3339))
		}
		return fmt.Errorf("certificate expires at %s, in %.1f days, fewer than %d", leaf.NotAfter.UTC().Format(time.RFC3339), left.Hours()/24, c.MinDaysLeft)
	}
	return nil
}

// Check connects c.Connections times and verifies the certificate each
// connection is served. It returns the first problem, or nil when every
// connection presented a good certificate.
func Check(ctx context.Context, c Config, now func() time.Time) error {
	sni := ""
	if len(c.ServerNames) > 0 {
		sni = c.ServerNames[0]
	}
	for i := range max(c.Connections, 1) {
		chain, err := takeCertificate(ctx, c.Address, sni, c.Timeout)
		if err != nil {
			return fmt.Errorf("connection %d to %s: %w", i+1, c.Address, err)
		}
		if err := verify(chain[0], c, now()); err != nil {
			return fmt.Errorf("connection %d to %s: %w", i+1, c.Address, err)
		}
	}
	return nil
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}
