package main

import (
	"context"
	"errors"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"time"
)

// maxHeaderBytes bounds a request's header. net/http's default, 1 MiB,
// would let each connection hold a megabyte while it sends a header; the
// example's requests need a few hundred bytes, and 16 KiB leaves room for
// cookies and tokens. With MAX_CONNECTIONS open connections this is part of
// what the connection cap has to cover.
const maxHeaderBytes = 16 << 10

// listen opens the TCP listener behind the gate (connection cap, trusted
// sources) and, with PROXY_PROTOCOL on, requires a PROXY v2 header on every
// connection. An NLB with proxy_protocol_v2.enabled sends one on each
// connection, health checks included, so a connection without it did not
// come through the NLB and its source would be a guess.
func listen(cfg *config, maxConns int, events *failureLog) (net.Listener, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.host, cfg.port))
	if err != nil {
		return nil, err
	}
	ln = newGateListener(ln, maxConns, cfg.proxyTrusted, events)
	if cfg.proxyProtocol {
		ln = &proxyListener{Listener: ln, timeout: cfg.proxyHeader}
	}
	return ln, nil
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
// drain window is zero. The connection deadlines (see timeouts) are what
// let step 2 end in time even when clients stall: a stalled request is
// closed by its deadline, not by the shutdown's.
func serve(cfg *config, logger *slog.Logger, stdout *syncWriter, stop <-chan os.Signal) error {
	meta := loadTaskMetadata(cfg.metadataURI, logger)
	task := taskName(meta)
	// GOMEMLIMIT is read from the real environment: it is the one the Go
	// runtime has applied at start.
	plan := planMemory(cfg, os.Getenv, os.ReadFile, meta, debug.SetMemoryLimit(-1), openFileLimit())
	goLimit := applyMemoryPlan(plan)

	failures := newFailureLog(logger)
	ln, err := listen(cfg, plan.maxConns, failures)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           newHandler(task, cfg.debugEndpoints),
		TLSConfig:         serverTLSConfig(cfg),
		ErrorLog:          log.New(errorLogWriter{logger, failures}, "", 0),
		ReadHeaderTimeout: cfg.readHeader, // and the TLS handshake, the shortest of the three
		ReadTimeout:       cfg.read,
		WriteTimeout:      cfg.write,
		IdleTimeout:       cfg.idle,
		MaxHeaderBytes:    maxHeaderBytes,
		Protocols:         new(http.Protocols),
	}
	srv.Protocols.SetHTTP1(true)

	leaf := cfg.cert.Leaf
	logger.Info("listening",
		"addr", ln.Addr().String(),
		"task", task,
		"mtls", cfg.clientCAs != nil,
		"proxy_protocol", cfg.proxyProtocol,
		"proxy_trusted_cidrs", len(cfg.proxyTrusted),
		"cert_subject", leaf.Subject.String(),
		"cert_not_after", leaf.NotAfter.UTC(),
		"cert_sha256", fingerprint(leaf.Raw),
		"max_connections", plan.maxConns,
		"max_connections_source", plan.maxConnsSource,
		"memory_limit_bytes", plan.containerLimit,
		"memory_limit_source", plan.limitSource,
		"go_memory_limit_bytes", goLimit,
	)
	if now := time.Now(); now.After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
		logger.Warn("certificate is not valid now; serving it anyway so the health check can report it")
	}
	if bound := cfg.drainAccept + cfg.requestBound(); bound >= cfg.shutdownTimeout {
		logger.Warn("a request that stalls until its deadline can outlast the shutdown budget; lower READ_TIMEOUT_SECONDS or WRITE_TIMEOUT_SECONDS, or raise SHUTDOWN_TIMEOUT_SECONDS",
			"drain_accept_plus_request_bound_seconds", bound.Seconds(), "shutdown_timeout_seconds", cfg.shutdownTimeout.Seconds())
	}

	metricsCtx, stopMetrics := context.WithCancel(context.Background())
	metricsDone := make(chan struct{})
	go func() {
		defer close(metricsDone)
		go reportCertExpiry(metricsCtx, stdout, leaf, cfg.serviceName, cfg.metricInterval, logger)
		reportFailures(metricsCtx, stdout, failures, cfg.serviceName, cfg.failureMetricInterval, logger)
	}()
	// The last failure line, for the interval cut short, is written before
	// the process exits.
	defer func() { stopMetrics(); <-metricsDone }()

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

// errorLogWriter routes net/http's error log into the JSON log. Handshake
// errors, one per failed connection, go to the failure log instead, which
// counts them and logs a sample: a flood of hostile or broken clients
// costs one metric line per interval, not one log line each.
type errorLogWriter struct {
	logger   *slog.Logger
	failures *failureLog
}

func (w errorLogWriter) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	if reason, peer, detail, ok := classifyHandshakeError(line); ok {
		w.failures.handshakeFailed(reason, peer, detail)
	} else if !strings.HasPrefix(line, "http: TLS handshake error from ") {
		w.logger.Warn(line, "source", "net/http")
	}
	return len(p), nil
}
