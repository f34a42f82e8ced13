package main

import (
	"crypto/tls"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

// metricLines returns the failure metric lines the server has written.
func metricLines(s *serverProc) []map[string]any {
	var out []map[string]any
	for _, line := range s.stdout.jsonLines() {
		if _, ok := line[handshakeFailuresMetric]; ok {
			out = append(out, line)
		}
	}
	return out
}

// reasonTotal sums Reasons[reason] over the failure metric lines so far.
func reasonTotal(s *serverProc, reason string) int {
	n := 0
	for _, line := range metricLines(s) {
		if r, ok := line["Reasons"].(map[string]any); ok {
			v, _ := r[reason].(float64)
			n += int(v)
		}
	}
	return n
}

// waitReasonTotal waits until the metric lines count at least want of
// reason, and returns the count.
func waitReasonTotal(t *testing.T, s *serverProc, reason string, want int) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := reasonTotal(s, reason)
		if n >= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// refusedAtOnce reports whether the server ends conn before sending a
// byte and well before any deadline (the handshake's is 5 s), as the gate
// does.
func refusedAtOnce(conn net.Conn) bool {
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err := conn.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// TestConnectionCap: with MAX_CONNECTIONS open, the next connection is
// reset at once, counted and logged; closing one makes room again.
func TestConnectionCap(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t)
	certPEM, keyPEM := pki.validServerPEM(t)
	srv := startServer(t, append(certEnv(certPEM, keyPEM), "MAX_CONNECTIONS=3", "CONNECTION_METRIC_INTERVAL_SECONDS=1")...)
	if line := srv.stdout.find(func(m map[string]any) bool { return m["msg"] == "listening" }); line["max_connections"] != 3.0 {
		t.Errorf("listening line says max_connections %v, want 3", line["max_connections"])
	}

	var held []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", srv.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	time.Sleep(100 * time.Millisecond) // let the server accept all three
	// The reset can arrive before connect returns.
	if extra, err := net.Dial("tcp", srv.addr); err == nil {
		defer extra.Close()
		if !refusedAtOnce(extra) {
			t.Error("a fourth connection was kept open with MAX_CONNECTIONS=3")
		}
	}

	held[0].Close()
	clientCfg := &tls.Config{RootCAs: pki.pool, ServerName: "localhost"}
	var served bool
	for deadline := time.Now().Add(3 * time.Second); !served && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if conn, err := dialTLS(srv.addr, clientCfg, 2*time.Second); err == nil {
			_, status, err := getInfo(conn, "localhost")
			served = err == nil && status == 200
			conn.Close()
		}
	}
	if !served {
		t.Error("no client served after a connection closed")
	}

	if n := waitReasonTotal(t, srv, reasonOverCapacity, 1); n < 1 {
		t.Errorf("metric lines count %d over_capacity refusals, want at least 1\n%s", n, srv.stdout)
	}
	if line := srv.stdout.find(func(m map[string]any) bool { return m["reason"] == reasonOverCapacity }); line == nil || line["level"] != "WARN" {
		t.Errorf("refusal logged as %v", line)
	}
}

// TestTrustedProxySources: with PROXY_TRUSTED_CIDRS, a peer outside the
// ranges is refused before it can send a header, even a well-formed one;
// a peer inside is served with the header's address; the container's own
// health check, from 127.0.0.1, always passes. The tests stand for "a
// peer elsewhere" with 127.0.0.2, a loopback address outside the ranges.
func TestTrustedProxySources(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t)
	certPEM, keyPEM := pki.validServerPEM(t)
	base := append(certEnv(certPEM, keyPEM), "PROXY_PROTOCOL=v2", "CONNECTION_METRIC_INTERVAL_SECONDS=1")
	clientCfg := &tls.Config{RootCAs: pki.pool, ServerName: "localhost"}
	client := &net.TCPAddr{IP: net.IPv4(203, 0, 113, 7), Port: 50412}

	// Linux routes all of 127.0.0.0/8 to the loopback interface; macOS,
	// for one, has only 127.0.0.1 unless configured.
	if ln, err := net.Listen("tcp", "127.0.0.2:0"); err != nil {
		t.Skipf("127.0.0.2 is not a local address here: %v", err)
	} else {
		ln.Close()
	}

	// get connects from 127.0.0.2, sends a PROXY header naming client, and
	// asks GET /.
	get := func(t *testing.T, addr string) (*response, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 2 * time.Second}
		raw, err := d.Dial("tcp", addr)
		var ne *net.OpError
		if errors.As(err, &ne) && ne.Op == "dial" && !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("cannot connect from 127.0.0.2: %v", err)
		}
		if err != nil {
			return nil, err
		}
		defer raw.Close()
		_ = raw.SetDeadline(time.Now().Add(5 * time.Second))
		if err := writeProxyHeader(raw, client, raw.RemoteAddr()); err != nil {
			return nil, err
		}
		tc := tls.Client(raw, clientCfg)
		if err := tc.Handshake(); err != nil {
			return nil, err
		}
		got, _, err := getInfo(tc, "localhost")
		return got, err
	}

	t.Run("outside the ranges", func(t *testing.T) {
		t.Parallel()
		env := append(base, "PROXY_TRUSTED_CIDRS=10.0.0.0/16,2600:1f18::/56")
		srv := startServer(t, env...)
		if got, err := get(t, srv.addr); err == nil {
			t.Errorf("served a peer outside PROXY_TRUSTED_CIDRS, as %s", got.RemoteAddr)
		}
		if n := waitReasonTotal(t, srv, reasonUntrustedSource, 1); n != 1 {
			t.Errorf("metric lines count %d untrusted_source refusals, want 1", n)
		}
		if code, out := runBinary(t, append(env, "PORT="+srv.port), "-healthcheck"); code != 0 {
			t.Errorf("-healthcheck from 127.0.0.1 exited %d: %s", code, out)
		}
	})
	t.Run("inside the ranges", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, append(base, "PROXY_TRUSTED_CIDRS=10.0.0.0/16, 127.0.0.2/32")...)
		got, err := get(t, srv.addr)
		if err != nil {
			t.Fatalf("a peer inside PROXY_TRUSTED_CIDRS: %v", err)
		}
		if got.RemoteAddr != client.String() {
			t.Errorf("remote_addr %s, want the header's %s", got.RemoteAddr, client)
		}
	})
	t.Run("no ranges set", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, base...)
		if _, err := get(t, srv.addr); err != nil {
			t.Errorf("without PROXY_TRUSTED_CIDRS any peer may send a header: %v", err)
		}
	})
}
