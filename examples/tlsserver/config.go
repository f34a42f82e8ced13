package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
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
	cert      *tls.Certificate // nil only in -healthcheck mode without TLS_CERT
	clientCAs *x509.CertPool   // non-nil turns mutual TLS on

	host            string
	port            string
	proxyProtocol   bool
	drainAccept     time.Duration
	shutdownTimeout time.Duration
	metricInterval  time.Duration
	serviceName     string
	debugEndpoints  bool
	metadataURI     string
}

// loadConfig reads the environment through getenv so tests need not touch
// the process environment. The -healthcheck mode passes needCert=false: it
// only needs the port and the TLS options, and uses the key pair when present.
func loadConfig(getenv func(string) string, needCert bool) (*config, error) {
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
	if cfg.drainAccept, err = parseSeconds(getenv, "DRAIN_ACCEPT_SECONDS", 0); err != nil {
		return nil, err
	}
	if cfg.shutdownTimeout, err = parseSeconds(getenv, "SHUTDOWN_TIMEOUT_SECONDS", 30); err != nil {
		return nil, err
	}
	if cfg.shutdownTimeout <= 0 {
		return nil, errors.New("SHUTDOWN_TIMEOUT_SECONDS must be greater than 0")
	}
	// The drain window is part of the shutdown budget, so in-flight requests
	// need time left over after it.
	if cfg.drainAccept >= cfg.shutdownTimeout {
		return nil, errors.New("DRAIN_ACCEPT_SECONDS must be less than SHUTDOWN_TIMEOUT_SECONDS")
	}
	if cfg.metricInterval, err = parseSeconds(getenv, "CERT_METRIC_INTERVAL_SECONDS", 3600); err != nil {
		return nil, err
	}
	if cfg.metricInterval <= 0 {
		return nil, errors.New("CERT_METRIC_INTERVAL_SECONDS must be greater than 0")
	}

	certPEM, err := readPEM(getenv, "TLS_CERT")
	if err != nil {
		return nil, err
	}
	keyPEM, err := readPEM(getenv, "TLS_KEY")
	if err != nil {
		return nil, err
	}
	switch {
	case certPEM == nil && (needCert || keyPEM != nil):
		return nil, errors.New("TLS_CERT is not set: provide the PEM certificate chain in TLS_CERT, or its path in TLS_CERT_FILE")
	case keyPEM == nil && (needCert || certPEM != nil):
		return nil, errors.New("TLS_KEY is not set: provide the PEM private key in TLS_KEY, or its path in TLS_KEY_FILE")
	case certPEM != nil:
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
	}

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

// readPEM returns the PEM text from the variable name or from the file named
// by name_FILE, or nil when neither is set. Setting both is an error rather
// than a silent precedence rule, because a stale variable left in a task
// definition would otherwise win unnoticed.
func readPEM(getenv func(string) string, name string) ([]byte, error) {
	value, path := getenv(name), getenv(name+"_FILE")
	switch {
	case value != "" && path != "":
		return nil, fmt.Errorf("set only one of %s and %s_FILE", name, name)
	case path != "":
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%s_FILE: %w", name, err)
		}
		return b, nil
	case value != "":
		// A PEM pasted into a JSON secret often ends up with literal "\n"
		// sequences instead of newlines; accept that rather than fail on
		// a formatting accident.
		if !strings.Contains(value, "\n") {
			value = strings.ReplaceAll(value, `\n`, "\n")
		}
		return []byte(value), nil
	}
	return nil, nil
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

func parseSeconds(getenv func(string) string, name string, def int) (time.Duration, error) {
	s := getenv(name)
	if s == "" {
		return time.Duration(def) * time.Second, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s must be a whole number of seconds >= 0, got %q", name, s)
	}
	return time.Duration(n) * time.Second, nil
}

func isTrue(s string) bool {
	b, _ := strconv.ParseBool(s)
	return b
}
