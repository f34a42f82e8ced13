package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// config is everything the server takes from its environment. There is no
// config file on purpose: on ECS the certificate and key arrive as secrets
// injected into environment variables, and the root filesystem may be
// read-only.
type config struct {
	cert      *tls.Certificate
	clientCAs *x509.CertPool // non-nil turns mutual TLS on

	host           string
	port           string
	proxyProtocol  bool
	proxyTrusted   []netip.Prefix // nil: PROXY headers from any peer
	serviceName    string
	debugEndpoints bool
	metadataURI    string

	timeouts
	drainAccept     time.Duration
	shutdownTimeout time.Duration
	stopTimeout     time.Duration // SIGKILL comes this long after SIGTERM

	maxConns       int   // 0: derived from the memory limit
	memoryLimitMiB int64 // 0: detected (cgroup, task metadata)

	metricInterval        time.Duration // certificate expiry
	failureMetricInterval time.Duration // handshake failures and refusals
}

// timeouts bound every phase of a connection, so that no peer holds a
// connection, and its memory, longer than it takes to serve it:
//
//	accept ── PROXY header ── TLS handshake ── request header ── body ── response ── idle ── next request
//	          proxyHeader     readHeader (*)    readHeader        read      write        idle
//
// (*) net/http gives the handshake the shortest of ReadHeaderTimeout,
// ReadTimeout and WriteTimeout. read counts from the start of the request,
// header included; write from the end of the request header to the end of
// the response.
type timeouts struct {
	proxyHeader time.Duration
	readHeader  time.Duration
	read        time.Duration
	write       time.Duration
	idle        time.Duration
}

// Defaults. SHUTDOWN_TIMEOUT_SECONDS must stay below the container's stop
// timeout, whose ECS default is 30 s; the request deadlines must fit inside
// the shutdown budget with room to spare, even the examples' 15 s (see
// requestBound).
const (
	defaultShutdownTimeout = 20 * time.Second
	ecsDefaultStopTimeout  = 30 * time.Second
)

var defaultTimeouts = timeouts{
	proxyHeader: 5 * time.Second,
	readHeader:  5 * time.Second,
	read:        5 * time.Second,
	write:       5 * time.Second,
	// Below the NLB's TCP idle timeout (350 s unless configured), so that
	// the server, not the load balancer, ends an idle keep-alive
	// connection: past the NLB's timeout the flow is gone, and the client
	// learns it only from a reset when it sends its next request.
	idle: 60 * time.Second,
}

// newConnGrace is how long http.Server.Shutdown lets a connection that has
// not yet sent a complete request header go on (a constant in net/http):
// such a connection can still become a request after the listener closes.
const newConnGrace = 5 * time.Second

// requestBound is how long after the listener closes a request may still
// run, handlers aside: a connection accepted just before can take
// newConnGrace to send its header, then its body or its response may take
// until its read or write deadline. Idle keep-alive connections are closed
// at once and do not count.
func (c *config) requestBound() time.Duration {
	return newConnGrace + max(c.read, c.write)
}

// loadConfig reads the environment through getenv so tests need not touch
// the process environment. The -healthcheck mode reads the same
// configuration: it probes the server with the same options and checks
// that the port serves the same certificate.
func loadConfig(getenv func(string) string) (*config, error) {
	cfg := &config{
		host:           getenv("HOST"),
		serviceName:    getenv("SERVICE_NAME"),
		metadataURI:    getenv("ECS_CONTAINER_METADATA_URI_V4"),
		debugEndpoints: isTrue(getenv("DEBUG_SLOW_PATH")),
	}
	if cfg.serviceName == "" {
		cfg.serviceName = "passthrough"
	}

	var err error
	if cfg.port, err = parsePort(getenv("PORT")); err != nil {
		return nil, err
	}
	if cfg.proxyProtocol, err = parseProxyProtocol(getenv("PROXY_PROTOCOL")); err != nil {
		return nil, err
	}
	if cfg.proxyTrusted, err = parsePrefixes(getenv, "PROXY_TRUSTED_CIDRS"); err != nil {
		return nil, err
	}
	if cfg.proxyTrusted != nil && !cfg.proxyProtocol {
		return nil, errors.New("PROXY_TRUSTED_CIDRS is set but PROXY_PROTOCOL is off: set PROXY_PROTOCOL=v2, or unset PROXY_TRUSTED_CIDRS")
	}

	durations := []struct {
		name string
		dst  *time.Duration
		def  time.Duration
		zero bool // 0 allowed
	}{
		{"PROXY_HEADER_TIMEOUT_SECONDS", &cfg.proxyHeader, defaultTimeouts.proxyHeader, false},
		{"READ_HEADER_TIMEOUT_SECONDS", &cfg.readHeader, defaultTimeouts.readHeader, false},
		{"READ_TIMEOUT_SECONDS", &cfg.read, defaultTimeouts.read, false},
		{"WRITE_TIMEOUT_SECONDS", &cfg.write, defaultTimeouts.write, false},
		{"IDLE_TIMEOUT_SECONDS", &cfg.idle, defaultTimeouts.idle, false},
		{"DRAIN_ACCEPT_SECONDS", &cfg.drainAccept, 0, true},
		{"SHUTDOWN_TIMEOUT_SECONDS", &cfg.shutdownTimeout, defaultShutdownTimeout, false},
		{"STOP_TIMEOUT_SECONDS", &cfg.stopTimeout, ecsDefaultStopTimeout, false},
		{"CERT_METRIC_INTERVAL_SECONDS", &cfg.metricInterval, time.Hour, false},
		{"CONNECTION_METRIC_INTERVAL_SECONDS", &cfg.failureMetricInterval, time.Minute, false},
	}
	for _, d := range durations {
		if *d.dst, err = parseSeconds(getenv, d.name, d.def); err != nil {
			return nil, err
		}
		// Zero would turn a deadline off, which is what the deadlines exist
		// to prevent, or make a budget or an interval meaningless.
		if *d.dst == 0 && !d.zero {
			return nil, fmt.Errorf("%s must be greater than 0", d.name)
		}
	}
	// The drain window is part of the shutdown budget, so in-flight requests
	// need time left over after it.
	if cfg.drainAccept >= cfg.shutdownTimeout {
		return nil, errors.New("DRAIN_ACCEPT_SECONDS must be less than SHUTDOWN_TIMEOUT_SECONDS")
	}
	// ECS sends SIGKILL the stop timeout after SIGTERM. The task definition's
	// value is not in the task metadata, so the deployment passes it in
	// STOP_TIMEOUT_SECONDS; unset, ECS's default applies.
	if cfg.shutdownTimeout >= cfg.stopTimeout {
		src := "STOP_TIMEOUT_SECONDS"
		if getenv("STOP_TIMEOUT_SECONDS") == "" {
			src = "ECS's default, STOP_TIMEOUT_SECONDS unset"
		}
		return nil, fmt.Errorf("SHUTDOWN_TIMEOUT_SECONDS=%d is not below the container's stop timeout of %d s (%s): ECS would kill the server before its shutdown ends; lower SHUTDOWN_TIMEOUT_SECONDS or raise the task definition's stopTimeout and STOP_TIMEOUT_SECONDS with it",
			int(cfg.shutdownTimeout.Seconds()), int(cfg.stopTimeout.Seconds()), src)
	}

	if cfg.maxConns, err = parseCount(getenv, "MAX_CONNECTIONS"); err != nil {
		return nil, err
	}
	mib, err := parseCount(getenv, "MEMORY_LIMIT_MIB")
	if err != nil {
		return nil, err
	}
	cfg.memoryLimitMiB = int64(mib)

	certPEM, err := readPEM(getenv, "TLS_CERT")
	if err != nil {
		return nil, err
	}
	keyPEM, err := readPEM(getenv, "TLS_KEY")
	if err != nil {
		return nil, err
	}
	switch {
	case certPEM == nil:
		return nil, errors.New("TLS_CERT is not set: provide the PEM certificate chain in TLS_CERT, or its path in TLS_CERT_FILE")
	case keyPEM == nil:
		return nil, errors.New("TLS_KEY is not set: provide the PEM private key in TLS_KEY, or its path in TLS_KEY_FILE")
	}
	// An encrypted PKCS#8 key, as ACM exports it, comes with its passphrase
	// in a second secret value (encryptedkey.go).
	passphrase, err := readSecret(getenv, "TLS_KEY_PASSPHRASE")
	if err != nil {
		return nil, err
	}
	if keyPEM, err = decryptKeyPEM(keyPEM, passphrase); err != nil {
		return nil, fmt.Errorf("TLS_KEY: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("TLS_CERT/TLS_KEY: %w", err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("TLS_CERT: %w", err)
		}
	}
	cfg.cert = &cert

	caPEM, err := readPEM(getenv, "TLS_CLIENT_CA")
	if err != nil {
		return nil, err
	}
	if caPEM != nil {
		cfg.clientCAs = x509.NewCertPool()
		if !cfg.clientCAs.AppendCertsFromPEM(caPEM) {
			return nil, errors.New("TLS_CLIENT_CA: no PEM certificate found")
		}
	}
	return cfg, nil
}

// readVariable returns the value of the variable name, or the content of
// the file named by name_FILE (fromFile), or nil when neither is set.
// Setting both is an error rather than a silent precedence rule, because a
// stale variable left in a task definition would otherwise win unnoticed.
func readVariable(getenv func(string) string, name string) (b []byte, fromFile bool, err error) {
	value, path := getenv(name), getenv(name+"_FILE")
	switch {
	case value != "" && path != "":
		return nil, false, fmt.Errorf("set only one of %s and %s_FILE", name, name)
	case path != "":
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, true, fmt.Errorf("%s_FILE: %w", name, err)
		}
		return b, true, nil
	case value != "":
		return []byte(value), false, nil
	}
	return nil, false, nil
}

// readPEM reads PEM text with readVariable.
func readPEM(getenv func(string) string, name string) ([]byte, error) {
	b, fromFile, err := readVariable(getenv, name)
	if err != nil || b == nil || fromFile {
		return b, err
	}
	// A PEM pasted into a JSON secret often ends up with literal "\n"
	// sequences instead of newlines; accept that rather than fail on a
	// formatting accident.
	if !bytes.Contains(b, []byte("\n")) {
		b = bytes.ReplaceAll(b, []byte(`\n`), []byte("\n"))
	}
	return b, nil
}

// readSecret reads a value that is not PEM, a passphrase, with
// readVariable: taken as it is, except that a file loses one trailing
// newline, which a file written by `echo` or an editor ends with and which
// no passphrase ACM accepts contains.
func readSecret(getenv func(string) string, name string) ([]byte, error) {
	b, fromFile, err := readVariable(getenv, name)
	if err != nil || !fromFile {
		return b, err
	}
	b = bytes.TrimSuffix(bytes.TrimSuffix(b, []byte("\n")), []byte("\r"))
	if len(b) == 0 {
		return nil, fmt.Errorf("%s_FILE: %s is empty", name, getenv(name+"_FILE"))
	}
	return b, nil
}

func parsePort(s string) (string, error) {
	if s == "" {
		return "8443", nil
	}
	// PORT=0 lets the kernel choose, which the tests rely on.
	if n, err := strconv.Atoi(s); err != nil || n < 0 || n > 65535 {
		return "", fmt.Errorf("PORT must be a number between 0 and 65535, got %q", s)
	}
	return s, nil
}

func parseProxyProtocol(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "false", "off", "0", "none":
		return false, nil
	case "v2", "true", "on", "1":
		return true, nil
	}
	return false, fmt.Errorf("PROXY_PROTOCOL must be v2, true or false, got %q", s)
}

func parseSeconds(getenv func(string) string, name string, def time.Duration) (time.Duration, error) {
	s := getenv(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s must be a whole number of seconds >= 0, got %q", name, s)
	}
	return time.Duration(n) * time.Second, nil
}

// parseCount reads a positive whole number; unset is 0.
func parseCount(getenv func(string) string, name string) (int, error) {
	s := getenv(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s must be a whole number >= 1, got %q", name, s)
	}
	return n, nil
}

// parsePrefixes reads a comma-separated list of CIDR ranges or single
// addresses; unset is nil.
func parsePrefixes(getenv func(string) string, name string) ([]netip.Prefix, error) {
	s := getenv(name)
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return nil, fmt.Errorf("%s: %q is neither a CIDR range nor an IP address", name, f)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s lists no range", name)
	}
	return out, nil
}

func isTrue(s string) bool {
	b, _ := strconv.ParseBool(s)
	return b
}
