package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Probe mode: `tlsserver -probe HOST:PORT -fingerprint SHA256` dials a
// passthrough listener the way a client does, checks that the leaf
// certificate it is served is the expected one, sends one GET / and logs one
// JSON line with the result, then exits 0 (every attempt passed) or 1.
//
// It exists for the deploy tests in test/integ: paths that only a workload
// inside a VPC can take (an internal load balancer, the private addresses of
// an internet-facing one, a PrivateLink endpoint) are checked by running the
// example server's own image as a one-off ECS task in this mode, under the
// calling service's security groups, and reading the line back from
// CloudWatch Logs. The line's fields are the contract with test/integ's
// parser (test/integ/probe.go); TestProbeLogLineFields pins them.
//
// The probe never sends a PROXY protocol header: it is a client, and a load
// balancer with PROXY protocol on adds the header itself.

// probeMessage is the msg of the result line, which the parser looks for.
const probeMessage = "probe result"

// Environment variables with the client certificate and key (PEM, or a path
// in the _FILE form) for listeners that require mutual TLS.
const (
	envProbeClientCert = "PROBE_CLIENT_CERT"
	envProbeClientKey  = "PROBE_CLIENT_KEY"
)

// probeFlags are the flags of probe mode, registered on the command's flag
// set by addProbeFlags so that main.go only dispatches.
type probeFlags struct {
	addr        string
	fingerprint string
	serverName  string
	timeout     time.Duration
	duration    time.Duration
	interval    time.Duration
}

func addProbeFlags(fs *flag.FlagSet) *probeFlags {
	p := &probeFlags{}
	fs.StringVar(&p.addr, "probe", "", "probe `HOST:PORT` over TLS, log one JSON result line and exit 0 if every attempt passed, 1 otherwise")
	fs.StringVar(&p.fingerprint, "fingerprint", "", "with -probe: the SHA-256 fingerprints (hex, comma-separated) of the leaf certificates to accept; required")
	fs.StringVar(&p.serverName, "server-name", "", "with -probe: the TLS server name to send (default: HOST)")
	fs.DurationVar(&p.timeout, "probe-timeout", 5*time.Second, "with -probe: time limit of one attempt (connect, handshake, request)")
	fs.DurationVar(&p.duration, "probe-for", 0, "with -probe: keep probing this long, one attempt per -probe-every (default: one attempt)")
	fs.DurationVar(&p.interval, "probe-every", time.Second, "with -probe-for: time between the starts of two attempts")
	return p
}

// set reports whether probe mode was asked for.
func (p *probeFlags) set() bool { return p.addr != "" }

// probeOptions is probe mode's validated configuration.
type probeOptions struct {
	addr       string
	serverName string
	want       []string // accepted fingerprints, lower-case hex
	clientCert *tls.Certificate
	timeout    time.Duration
	duration   time.Duration
	interval   time.Duration
}

// probeOptionsFrom checks the flags and reads the client certificate from
// the environment.
func probeOptionsFrom(p *probeFlags, getenv func(string) string) (probeOptions, error) {
	host, _, err := net.SplitHostPort(p.addr)
	if err != nil {
		return probeOptions{}, fmt.Errorf("-probe %q: want HOST:PORT: %w", p.addr, err)
	}
	o := probeOptions{addr: p.addr, serverName: p.serverName, timeout: p.timeout, duration: p.duration, interval: p.interval}
	if o.serverName == "" {
		o.serverName = host
	}
	for _, f := range splitList(p.fingerprint) {
		f = strings.ToLower(strings.ReplaceAll(f, ":", ""))
		if len(f) != 64 || strings.Trim(f, "0123456789abcdef") != "" {
			return probeOptions{}, fmt.Errorf("-fingerprint %q is not a SHA-256 in hex", f)
		}
		o.want = append(o.want, f)
	}
	switch {
	case len(o.want) == 0:
		return probeOptions{}, errors.New("-fingerprint is required with -probe: the SHA-256 of the leaf certificate to expect")
	case o.timeout <= 0:
		return probeOptions{}, errors.New("-probe-timeout must be greater than 0")
	case o.duration < 0:
		return probeOptions{}, errors.New("-probe-for must not be negative")
	case o.duration > 0 && o.interval <= 0:
		return probeOptions{}, errors.New("-probe-every must be greater than 0")
	}
	certPEM, err := readPEM(getenv, envProbeClientCert)
	if err != nil {
		return probeOptions{}, err
	}
	keyPEM, err := readPEM(getenv, envProbeClientKey)
	if err != nil {
		return probeOptions{}, err
	}
	switch {
	case (certPEM == nil) != (keyPEM == nil):
		return probeOptions{}, fmt.Errorf("set both %s and %s, or neither", envProbeClientCert, envProbeClientKey)
	case certPEM != nil:
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return probeOptions{}, fmt.Errorf("%s/%s: %w", envProbeClientCert, envProbeClientKey, err)
		}
		o.clientCert = &cert
	}
	return o, nil
}

// probeAttempt is what one connection showed.
type probeAttempt struct {
	fingerprint string
	subject     string
	notAfter    time.Time
	version     string
	task        string // the "task" field of the example server's answer
	err         error
}

// probeOnce dials, completes the handshake, checks the leaf's fingerprint and
// sends GET /, whose answer proves that the server accepted the connection:
// under TLS 1.3 a server that refuses the client certificate does so only
// after the client's side of the handshake is complete.
func probeOnce(ctx context.Context, o probeOptions) (a probeAttempt) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", o.addr)
	if err != nil {
		a.err = err
		return a
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	tc := tls.Client(conn, &tls.Config{
		ServerName: o.serverName,
		MinVersion: tls.VersionTLS12,
		// The fingerprint below pins the exact leaf, which is stronger than
		// a chain check: a certificate for the same names from the same CA
		// still fails it.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("server sent no certificate")
			}
			leaf := cs.PeerCertificates[0]
			a.fingerprint, a.subject, a.notAfter = fingerprint(leaf.Raw), leaf.Subject.String(), leaf.NotAfter
			if !slices.Contains(o.want, a.fingerprint) {
				return fmt.Errorf("served certificate %q has SHA-256 %s, want %s", a.subject, a.fingerprint, strings.Join(o.want, " or "))
			}
			return nil
		},
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if o.clientCert != nil {
				return o.clientCert, nil
			}
			return &tls.Certificate{}, nil
		},
	})
	if err := tc.HandshakeContext(ctx); err != nil {
		a.err = err
		return a
	}
	a.version = tls.VersionName(tc.ConnectionState().Version)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+o.serverName+"/", nil)
	req.Close = true
	if err := req.Write(tc); err != nil {
		a.err = fmt.Errorf("send GET /: %w", err)
		return a
	}
	resp, err := http.ReadResponse(bufio.NewReader(tc), req)
	if err != nil {
		a.err = fmt.Errorf("read the answer to GET /: %w", err)
		return a
	}
	defer resp.Body.Close()
	var body struct {
		Task string `json:"task"`
	}
	if resp.StatusCode != http.StatusOK {
		a.err = fmt.Errorf("GET / answered %s", resp.Status)
		return a
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&body); err == nil {
		a.task = body.Task
	}
	return a
}

// probeSummary is the result line: every field is a key of the JSON line.
type probeSummary struct {
	attempts, failures int
	fingerprints       []string // distinct, in order of first sight
	tasks              []string // distinct answering tasks
	subject, version   string
	notAfter           time.Time
	firstError         string
	lastError          string
	elapsed            time.Duration
}

func (s *probeSummary) add(a probeAttempt) {
	s.attempts++
	if a.fingerprint != "" && !slices.Contains(s.fingerprints, a.fingerprint) {
		s.fingerprints = append(s.fingerprints, a.fingerprint)
	}
	if a.task != "" && !slices.Contains(s.tasks, a.task) {
		s.tasks = append(s.tasks, a.task)
	}
	if a.subject != "" {
		s.subject, s.notAfter = a.subject, a.notAfter
	}
	if a.version != "" {
		s.version = a.version
	}
	if a.err != nil {
		s.failures++
		if s.firstError == "" {
			s.firstError = a.err.Error()
		}
		s.lastError = a.err.Error()
	}
}

// probe runs the attempts: one, or one per interval until duration has
// passed. The loop is bounded by duration; an attempt by its timeout.
func probe(ctx context.Context, o probeOptions, now func() time.Time) probeSummary {
	var s probeSummary
	start := now()
	for {
		begun := now()
		// An attempt under way when ctx ends is finished, not cut short:
		// a cut-short attempt would count as a failed connection.
		s.add(probeOnce(context.WithoutCancel(ctx), o))
		if o.duration == 0 || now().Sub(start) >= o.duration {
			break
		}
		wait := o.interval - now().Sub(begun)
		if left := o.duration - now().Sub(start); wait > left {
			wait = left
		}
		if wait > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
		}
		if ctx.Err() != nil {
			break
		}
	}
	s.elapsed = now().Sub(start)
	return s
}

// runProbe is probe mode: usage errors exit 2 with a line on stderr, probe
// results exit 0 or 1 with the JSON line on stdout.
func runProbe(p *probeFlags, getenv func(string) string, stdout, stderr io.Writer) int {
	o, err := probeOptionsFrom(p, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "probe: %v\n", err)
		return 2
	}
	// SIGTERM (ECS's StopTask) or Ctrl-C ends a -probe-for loop early and
	// still logs what it saw: the deploy tests stop the in-VPC client loop
	// once a rolling deployment has completed.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	s := probe(ctx, o, time.Now)
	logProbe(stdout, o, s)
	if s.failures > 0 {
		return 1
	}
	return 0
}

func logProbe(w io.Writer, o probeOptions, s probeSummary) {
	level := slog.LevelInfo
	if s.failures > 0 {
		level = slog.LevelError
	}
	attrs := []slog.Attr{
		slog.String("target", o.addr),
		slog.String("server_name", o.serverName),
		slog.Bool("ok", s.failures == 0),
		slog.Int("attempts", s.attempts),
		slog.Int("failures", s.failures),
		slog.Any("want_sha256", o.want),
		slog.Any("cert_sha256", nonNil(s.fingerprints)),
		slog.String("subject", s.subject),
		slog.String("tls_version", s.version),
		slog.Any("tasks", nonNil(s.tasks)),
		slog.Bool("client_cert", o.clientCert != nil),
		slog.Int64("elapsed_ms", s.elapsed.Milliseconds()),
	}
	if !s.notAfter.IsZero() {
		attrs = append(attrs, slog.Time("not_after", s.notAfter.UTC()))
	}
	if s.firstError != "" {
		attrs = append(attrs, slog.String("first_error", s.firstError), slog.String("last_error", s.lastError))
	}
	slog.New(slog.NewJSONHandler(w, nil)).LogAttrs(context.Background(), level, probeMessage, attrs...)
}

// nonNil makes an empty list a JSON [] rather than null, so the parser
// never needs to tell the two apart.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
