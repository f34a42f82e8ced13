package integ

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Fingerprint is the SHA-256 of a DER certificate in lower-case hex, the
// form the example server logs (cert_sha256) and its probe mode compares.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// Observation is what one connection from the test process showed.
type Observation struct {
	At          time.Time
	Fingerprint string // of the leaf the server sent; empty if none arrived
	Subject     string
	Version     string
	// Task is the "task" field of the example server's answer to GET /:
	// the ECS task ID of the container that terminated TLS.
	Task string
	Err  error
}

// Dialer connects the test process to a listener. It is the same check as
// the example server's -probe mode, which runs inside the VPC: handshake,
// fingerprint of the leaf, then GET /, whose answer proves the server took
// the connection (under TLS 1.3 a refused client certificate only shows
// after the client's side of the handshake).
type Dialer struct {
	// ServerName is sent in the handshake; empty sends the host dialled.
	ServerName string
	// ClientCert is presented when the server asks for one.
	ClientCert *tls.Certificate
	// Timeout limits one attempt: connect, handshake and request.
	Timeout time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Observe makes one connection to addr.
func (d Dialer) Observe(ctx context.Context, addr string) (o Observation) {
	now := d.Now
	if now == nil {
		now = time.Now
	}
	o.At = now()
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	serverName := d.ServerName
	if serverName == "" {
		serverName, _, _ = net.SplitHostPort(addr)
	}
	var nd net.Dialer
	conn, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		o.Err = err
		return o
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	tc := tls.Client(conn, &tls.Config{
		ServerName: serverName,
		MinVersion: tls.VersionTLS12,
		// The fingerprint, compared by Check, pins the exact certificate;
		// the chain of the throwaway CA adds nothing to that.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("server sent no certificate")
			}
			o.Fingerprint, o.Subject = Fingerprint(cs.PeerCertificates[0].Raw), cs.PeerCertificates[0].Subject.String()
			return nil
		},
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if d.ClientCert != nil {
				return d.ClientCert, nil
			}
			return &tls.Certificate{}, nil
		},
	})
	if err := tc.HandshakeContext(ctx); err != nil {
		o.Err = err
		return o
	}
	o.Version = tls.VersionName(tc.ConnectionState().Version)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+serverName+"/", nil)
	req.Close = true
	if err := req.Write(tc); err != nil {
		o.Err = fmt.Errorf("send GET /: %w", err)
		return o
	}
	resp, err := http.ReadResponse(bufio.NewReader(tc), req)
	if err != nil {
		o.Err = fmt.Errorf("read the answer to GET /: %w", err)
		return o
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		o.Err = fmt.Errorf("GET / answered %s", resp.Status)
		return o
	}
	var body struct {
		Task string `json:"task"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&body); err != nil {
		o.Err = fmt.Errorf("answer to GET / is not the example server's JSON: %w", err)
		return o
	}
	o.Task = body.Task
	return o
}

// Check is the assertion on a served certificate: the connection worked and
// the leaf's fingerprint is one of want (one certificate, or the old and
// the new one during a rotation).
func (o Observation) Check(want ...string) error {
	switch {
	case o.Err != nil && o.Fingerprint != "" && !slices.Contains(want, o.Fingerprint):
		return fmt.Errorf("served %q (SHA-256 %s), want %s, and then: %w", o.Subject, o.Fingerprint, strings.Join(want, " or "), o.Err)
	case o.Err != nil:
		return o.Err
	case !slices.Contains(want, o.Fingerprint):
		return fmt.Errorf("served %q with SHA-256 %s, want %s", o.Subject, o.Fingerprint, strings.Join(want, " or "))
	}
	return nil
}

// CheckRefused is the assertion on a listener that must not be reachable:
// no TLS session came about. A timeout, a reset and a refusal all pass; a
// name that does not resolve does not.
func (o Observation) CheckRefused() error {
	if o.Fingerprint != "" {
		return fmt.Errorf("a server answered with %q (SHA-256 %s), want no connection", o.Subject, o.Fingerprint)
	}
	if o.Err == nil {
		return errors.New("connected, want no connection")
	}
	// A name that does not resolve proves nothing about the listener.
	if dnsErr := (*net.DNSError)(nil); errors.As(o.Err, &dnsErr) {
		return fmt.Errorf("not a refusal: %w", o.Err)
	}
	return nil
}
