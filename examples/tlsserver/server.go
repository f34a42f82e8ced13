package main

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	proxyproto "github.com/pires/go-proxyproto"
)

const (
	maxSlowDelay = 5 * time.Second
	maxBytes     = 64 << 20
)

// serverTLSConfig pins the protocol floor and the TLS 1.2 suites. TLS 1.3 is
// "preferred" without configuration: Go always negotiates the highest
// version both sides support, and 1.3 suites are all AEAD already.
func serverTLSConfig(cfg *config) *tls.Config {
	tc := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{*cfg.cert},
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		// The hybrid post-quantum key exchange first, for clients that offer
		// it (Go's own, recent browsers), then the classical curves.
		CurvePreferences: []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256},
	}
	if cfg.clientCAs != nil {
		tc.ClientAuth = tls.RequireAndVerifyClientCert
		tc.ClientCAs = cfg.clientCAs
	}
	return tc
}

// response is what GET / returns. ChannelBinding is the RFC 9266
// tls-exporter value of this TLS session: a client that computes the same
// value knows no TLS-terminating hop sits between it and this process.
type response struct {
	Task           string `json:"task"`
	RemoteAddr     string `json:"remote_addr"`
	TLSVersion     string `json:"tls_version"`
	CipherSuite    string `json:"cipher_suite"`
	ClientSubject  string `json:"client_subject,omitempty"`
	ChannelBinding string `json:"channel_binding,omitempty"`
}

func newHandler(task string, debug bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		resp := response{Task: task, RemoteAddr: r.RemoteAddr}
		if cs := r.TLS; cs != nil {
			resp.TLSVersion = tls.VersionName(cs.Version)
			resp.CipherSuite = tls.CipherSuiteName(cs.CipherSuite)
			if len(cs.PeerCertificates) > 0 {
				resp.ClientSubject = cs.PeerCertificates[0].Subject.String()
			}
			if ekm, err := cs.ExportKeyingMaterial(channelBindingLabel, nil, 32); err == nil {
				resp.ChannelBinding = hex.EncodeToString(ekm)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resp)
	})
	if debug {
		mux.HandleFunc("GET /slow", slowHandler)
		mux.HandleFunc("GET /bytes", bytesHandler)
	}
	return mux
}

const channelBindingLabel = "EXPORTER-Channel-Binding"

// slowHandler holds a request open so tests can prove that shutdown waits
// for it. The status line goes out first, so the client knows the request
// is in flight before it triggers the shutdown.
func slowHandler(w http.ResponseWriter, r *http.Request) {
	d, err := time.ParseDuration(r.URL.Query().Get("d"))
	if err != nil || d < 0 {
		http.Error(w, "d must be a duration such as 500ms", http.StatusBadRequest)
		return
	}
	d = min(d, maxSlowDelay)
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("started\n"))
	http.NewResponseController(w).Flush()
	select {
	case <-time.After(d):
		_, _ = w.Write([]byte("done\n"))
	case <-r.Context().Done():
	}
}

var zeros = make([]byte, 32<<10)

func bytesHandler(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.URL.Query().Get("n"))
	if err != nil || n < 0 || n > maxBytes {
		http.Error(w, fmt.Sprintf("n must be a byte count up to %d", maxBytes), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(n))
	for n > 0 {
		k, err := w.Write(zeros[:min(n, len(zeros))])
		if err != nil {
			return
		}
		n -= k
	}
}

// listen opens the TCP listener and, with PROXY_PROTOCOL on, requires a
// PROXY v2 header on every connection. An NLB with proxy_protocol_v2.enabled
// sends one on each connection, health checks included, so a connection
// without it did not come through the NLB and its source would be a guess.
func listen(cfg *config) (net.Listener, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.host, cfg.port))
	if err != nil {
		return nil, err
	}
	if !cfg.proxyProtocol {
		return ln, nil
	}
	return &proxyproto.Listener{
		Listener: ln,
		ConnPolicy: func(proxyproto.ConnPolicyOptions) (proxyproto.Policy, error) {
			return proxyproto.REQUIRE, nil
		},
		ValidateHeader: func(h *proxyproto.Header) error {
			if h.Version != 2 {
				return errors.New("proxy protocol v1 header received, v2 required")
			}
			return nil
		},
		// The header is read by the connection's own goroutine during the
		// TLS handshake, never in Accept, so a silent peer cannot stall
		// the accept loop; this only bounds how long it is kept.
		ReadHeaderTimeout: 5 * time.Second,
	}, nil
}

// serve runs the HTTPS server until a signal arrives on stop, then shuts it
// down in phases, each logged as one JSON line:
//
//  1. keep accepting for DRAIN_ACCEPT_SECONDS, with keep-alive off so
//     clients reconnect (to other targets) after their current response;
//  2. stop accepting and let in-flight requests finish, closing idle
//     keep-alive connections at once (http.Server.Shutdown);
//  3. if that is not done SHUTDOWN_TIMEOUT_SECONDS after the signal, close
//     whatever is left and report failure.
//
// ECS has already deregistered the task and waited the target group's
// deregistration delay before it sends SIGTERM, which is why the default
// drain window is zero.
func serve(cfg *config, logger *slog.Logger, stdout *syncWriter, stop <-chan os.Signal) error {
	ln, err := listen(cfg)
	if err != nil {
		return err
	}
	task := taskName(cfg.metadataURI, logger)
	srv := &http.Server{
		Handler:           newHandler(task, cfg.debugEndpoints),
		TLSConfig:         serverTLSConfig(cfg),
		ErrorLog:          log.New(errorLogWriter{logger}, "", 0),
		ReadHeaderTimeout: 10 * time.Second, // also bounds the TLS handshake
		IdleTimeout:       60 * time.Second, // below the NLB's 350 s TCP idle timeout
		Protocols:         new(http.Protocols),
	}
	srv.Protocols.SetHTTP1(true)

	leaf := cfg.cert.Leaf
	logger.Info("listening",
		"addr", ln.Addr().String(),
		"task", task,
		"mtls", cfg.clientCAs != nil,
		"proxy_protocol", cfg.proxyProtocol,
		"cert_subject", leaf.Subject.String(),
		"cert_not_after", leaf.NotAfter.UTC(),
		"cert_sha256", fingerprint(leaf.Raw),
	)
	if now := time.Now(); now.After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
		logger.Warn("certificate is not valid now; serving it anyway so the health check can report it")
	}

	metricsCtx, stopMetrics := context.WithCancel(context.Background())
	defer stopMetrics()
	go reportCertExpiry(metricsCtx, stdout, leaf, cfg.serviceName, cfg.metricInterval, logger)

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.ServeTLS(ln, "", "") }()

	var sig os.Signal
	select {
	case err := <-serveErr:
		return err
	case sig = <-stop:
	}
	deadline := time.Now().Add(cfg.shutdownTimeout)
	logger.Info("shutdown: signal received", "phase", "signal", "signal", sig.String(),
		"drain_accept_seconds", cfg.drainAccept.Seconds(), "shutdown_timeout_seconds", cfg.shutdownTimeout.Seconds())

	if cfg.drainAccept > 0 {
		srv.SetKeepAlivesEnabled(false)
		logger.Info("shutdown: still accepting, keep-alive off", "phase", "drain_accept")
		time.Sleep(cfg.drainAccept)
	}

	logger.Info("shutdown: stopped accepting, waiting for in-flight requests", "phase", "stop_accepting")
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
		logger.Error("shutdown: timed out, closed remaining connections", "phase", "timeout", "error", err.Error())
		return errors.New("shutdown timed out with requests still in flight")
	}
	logger.Info("shutdown: complete", "phase", "complete")
	return nil
}

// errorLogWriter routes net/http's error log into the JSON log, minus the
// handshake noise: an NLB TCP health check connects and closes without a
// ClientHello, which net/http reports as a handshake EOF every few seconds
// per load balancer node.
type errorLogWriter struct{ logger *slog.Logger }

func (w errorLogWriter) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	if !isHandshakeNoise(line) {
		w.logger.Warn(line, "source", "net/http")
	}
	return len(p), nil
}

// isHandshakeNoise reports whether an error-log line is an expected aborted
// handshake: the peer closed (EOF) or reset the connection before finishing
// it. A missing client certificate from a loopback peer is also noise: that
// is the -healthcheck probe when mutual TLS is on and the server's own
// certificate is not acceptable as a client certificate.
func isHandshakeNoise(line string) bool {
	rest, ok := strings.CutPrefix(line, "http: TLS handshake error from ")
	if !ok {
		return false
	}
	addr, reason, ok := strings.Cut(rest, ": ")
	if !ok {
		return false
	}
	switch {
	case strings.HasSuffix(reason, "EOF"), strings.Contains(reason, "connection reset by peer"):
		return true
	case strings.Contains(reason, "client didn't provide a certificate"):
		ap, err := netip.ParseAddrPort(addr)
		return err == nil && ap.Addr().IsLoopback()
	}
	return false
}

// taskName names this task in responses: the ECS task ID when the task
// metadata endpoint answers within 2 s, the hostname otherwise. It is
// fetched once because it cannot change for the life of the process.
func taskName(metadataURI string, logger *slog.Logger) string {
	if metadataURI != "" {
		id, err := fetchTaskID(metadataURI, 2*time.Second)
		if err == nil {
			return id
		}
		logger.Warn("task metadata unavailable, using hostname", "error", err.Error())
	}
	host, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return host
}

func fetchTaskID(metadataURI string, timeout time.Duration) (string, error) {
	client := &http.Client{Timeout: timeout}
	resp, err := client.Get(strings.TrimSuffix(metadataURI, "/") + "/task")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("task metadata: %s", resp.Status)
	}
	var meta struct{ TaskARN string }
	if err := json.NewDecoder(resp.Body).Decode(&meta); err != nil {
		return "", fmt.Errorf("task metadata: %w", err)
	}
	if meta.TaskARN == "" {
		return "", errors.New("task metadata: no TaskARN")
	}
	// arn:aws:ecs:region:account:task/cluster/id: the ID is what the
	// console and the CLI show.
	return meta.TaskARN[strings.LastIndex(meta.TaskARN, "/")+1:], nil
}
