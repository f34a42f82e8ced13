package main

import (
	"log/slog"
	"maps"
	"net/netip"
	"strings"
	"sync"
)

// Why a connection ended before its first request. The names are stable:
// they are the keys of the Reasons object in the metric line, for queries
// in CloudWatch Logs Insights.
const (
	// Refused at accept, before a byte was read.
	reasonOverCapacity    = "over_capacity"
	reasonUntrustedSource = "untrusted_source"

	// Failed in the PROXY header or the TLS handshake.
	reasonProxyHeader       = "proxy_header"
	reasonTimeout           = "timeout"
	reasonNotTLS            = "not_tls"
	reasonProtocolVersion   = "protocol_version"
	reasonNoSharedParams    = "no_shared_parameters"
	reasonClientCertificate = "client_certificate"
	reasonClientAlert       = "client_alert"
	reasonOther             = "other"

	// Closed by the peer before the handshake ended: an NLB TCP health
	// check (connect, then close) every few seconds per load balancer node,
	// or a port scanner. Counted, never logged.
	reasonAborted = "aborted"
)

// failureLogBurst is how many lines each reason may log per metric
// interval. A flood of failures is one metric line and a few examples, not
// one line per connection: each line costs CloudWatch ingestion, and with
// ECS's non-blocking log mode a burst of lines fills the buffer and loses
// lines, the useful ones included.
const failureLogBurst = 3

// failureLog counts connections that failed before a request, by reason,
// and logs a sample of them. reportFailures turns each interval's counts
// into one metric line.
type failureLog struct {
	logger *slog.Logger

	mu         sync.Mutex
	counts     map[string]int // this interval, by reason
	logged     map[string]int
	suppressed int
}

func newFailureLog(logger *slog.Logger) *failureLog {
	return &failureLog{logger: logger, counts: map[string]int{}, logged: map[string]int{}}
}

// refused records a connection closed at accept.
func (f *failureLog) refused(reason, peer, detail string) {
	f.record(reason, peer, detail, "connection refused")
}

// handshakeFailed records a connection whose PROXY header or TLS handshake
// failed; detail is the error.
func (f *failureLog) handshakeFailed(reason, peer, detail string) {
	f.record(reason, peer, detail, "handshake failed")
}

func (f *failureLog) record(reason, peer, detail, msg string) {
	f.mu.Lock()
	f.counts[reason]++
	log := reason != reasonAborted && f.logged[reason] < failureLogBurst
	if log {
		f.logged[reason]++
	} else if reason != reasonAborted {
		f.suppressed++
	}
	f.mu.Unlock()
	if log {
		f.logger.Warn(msg, "reason", reason, "peer", peer, "error", detail, "sampled", true)
	}
}

// failureCounts is one interval's tally.
type failureCounts struct {
	byReason   map[string]int
	suppressed int // lines not logged
}

// refusals is the number of connections refused at accept.
func (c failureCounts) refusals() int {
	return c.byReason[reasonOverCapacity] + c.byReason[reasonUntrustedSource]
}

// handshakeFailures is the number of PROXY header and TLS handshake
// failures, without the aborted ones: those are health checks, and would
// make the metric a count of the load balancer's probes.
func (c failureCounts) handshakeFailures() int {
	n := 0
	for reason, k := range c.byReason {
		switch reason {
		case reasonOverCapacity, reasonUntrustedSource, reasonAborted:
		default:
			n += k
		}
	}
	return n
}

// flush returns the counts since the last flush and starts a new interval,
// with a fresh logging allowance.
func (f *failureLog) flush() failureCounts {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := failureCounts{byReason: maps.Clone(f.counts), suppressed: f.suppressed}
	clear(f.counts)
	clear(f.logged)
	f.suppressed = 0
	return c
}

// classifyHandshakeError names the reason for a handshake error as net/http
// logs it, "http: TLS handshake error from ADDR: ERROR". net/http offers no
// other way to learn of a failed handshake, so the error is matched on its
// text; the tests pin each case. ok is false for lines that are not
// handshake errors, and for the -healthcheck probe's own missing client
// certificate (a loopback peer under mutual TLS), which is not a failure.
func classifyHandshakeError(line string) (reason, peer, detail string, ok bool) {
	rest, found := strings.CutPrefix(line, "http: TLS handshake error from ")
	if !found {
		return "", "", "", false
	}
	peer, detail, found = strings.Cut(rest, ": ")
	if !found {
		return "", "", "", false
	}
	has := func(s ...string) bool {
		for _, x := range s {
			if strings.Contains(detail, x) {
				return true
			}
		}
		return false
	}
	switch {
	case strings.HasPrefix(detail, "proxy protocol:"):
		// Before the timeout check: a header timeout says so in its own words.
		return reasonProxyHeader, peer, detail, true
	case has("i/o timeout"):
		return reasonTimeout, peer, detail, true
	case strings.HasSuffix(detail, "EOF"), has("connection reset by peer", "broken pipe"):
		return reasonAborted, peer, detail, true
	case has("client didn't provide a certificate"):
		if ap, err := netip.ParseAddrPort(peer); err == nil && ap.Addr().IsLoopback() {
			return "", "", "", false
		}
		return reasonClientCertificate, peer, detail, true
	case has("remote error:"):
		// The client ended the handshake, typically because it does not
		// trust the server's certificate ("unknown certificate authority").
		return reasonClientAlert, peer, detail, true
	case has("certificate"):
		// On the server every certificate error is about the client's:
		// missing, unparsable, too long a chain, or not verified.
		return reasonClientCertificate, peer, detail, true
	case has("HTTP request to an HTTPS server", "does not look like a TLS handshake", "oversized record", "unsupported SSLv2"):
		return reasonNotTLS, peer, detail, true
	case has("unsupported versions", "protocol version"):
		return reasonProtocolVersion, peer, detail, true
	case has("no cipher suite", "no key exchanges"):
		return reasonNoSharedParams, peer, detail, true
	}
	return reasonOther, peer, detail, true
}
