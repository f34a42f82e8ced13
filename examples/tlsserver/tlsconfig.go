package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// aeadSuites are the TLS 1.2 cipher suites the server accepts: ECDHE key
// exchange (forward secrecy) with an AEAD cipher. Go ignores the order of
// this list and picks by its own preference; the list is what it may pick
// from. Without it Go's defaults would also allow the ECDHE CBC suites.
// TLS 1.3 suites are all AEAD and not configurable.
var aeadSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// serverTLSConfig pins the protocol floor and the TLS 1.2 suites. TLS 1.3 is
// "preferred" without configuration: Go always negotiates the highest
// version both sides support.
//
// Key exchange is left to Go's defaults (CurvePreferences nil), on purpose.
// Go ignores the order of CurvePreferences since 1.24 and only uses it as
// a filter, so a list cannot express a preference, only drop groups; it
// already dropped P-384, P-521 and Go 1.26's new hybrids here once. Go
// 1.26 offers X25519MLKEM768, SecP256r1MLKEM768, SecP384r1MLKEM1024,
// X25519, P-256, P-384 and P-521 (the hybrids under TLS 1.3 only), and as
// a server picks a post-quantum hybrid whenever the client supports one,
// then a group the client already sent a key share for (saving a round
// trip), then the first in that list. New Go releases bring their new
// defaults with them.
func serverTLSConfig(cfg *config) *tls.Config {
	tc := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{*cfg.cert},
		CipherSuites: aeadSuites,
	}
	if cfg.clientCAs != nil {
		// RequireAnyClientCert makes crypto/tls insist on a certificate but
		// leaves verifying it to VerifyConnection, which caps the chain's
		// length first (see verifyClientCertificate). ClientCAs then only
		// names the CA in the certificate request, which helps clients
		// pick a certificate; the name is no secret.
		tc.ClientAuth = tls.RequireAnyClientCert
		tc.ClientCAs = cfg.clientCAs
		tc.VerifyConnection = verifyClientCertificate(cfg.clientCAs, time.Now)
	}
	return tc
}

// maxClientChain is the longest client certificate chain the server
// verifies: the leaf and up to three intermediates, more than any real
// client PKI uses.
const maxClientChain = 4

// verifyClientCertificate returns a tls.Config.VerifyConnection that
// verifies the client's chain against roots for client authentication.
//
// crypto/tls's own verification (RequireAndVerifyClientCert) hands every
// certificate the client sends to x509.Verify, which tries each candidate
// path and, with intermediates built to look alike, makes up to 100
// signature checks: a 200-certificate chain of P-521 intermediates cost
// about 250 normal handshakes of CPU, before any authentication. Refusing
// long chains first brings that chain down to about 4 normal handshakes.
// What remains is crypto/tls parsing every certificate of the message
// before any callback runs (about 10 µs each, no signature check): at its
// 256 KiB message limit, about 9 normal handshakes (README.md has the
// figures).
//
// VerifyConnection, unlike VerifyPeerCertificate, also runs when a session
// is resumed, with the certificates stored in the session ticket: a
// resumed session is verified again, now, so a client whose certificate or
// intermediate has since expired cannot ride an older session. crypto/tls
// itself rechecks only the leaf's expiry on resumption under
// RequireAnyClientCert.
func verifyClientCertificate(roots *x509.CertPool, now func() time.Time) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		certs := cs.PeerCertificates
		switch {
		case len(certs) == 0:
			// RequireAnyClientCert refuses this before; kept for resumed
			// sessions, which carry the certificates they were made with.
			return errors.New("client certificate missing")
		case len(certs) > maxClientChain:
			return fmt.Errorf("client certificate chain of %d certificates refused: at most %d are verified", len(certs), maxClientChain)
		}
		inter := x509.NewCertPool()
		for _, c := range certs[1:] {
			inter.AddCert(c)
		}
		_, err := certs[0].Verify(x509.VerifyOptions{
			Roots:         roots,
			Intermediates: inter,
			CurrentTime:   now(),
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		})
		if err != nil {
			return fmt.Errorf("client certificate not verified: %w", err)
		}
		return nil
	}
}
