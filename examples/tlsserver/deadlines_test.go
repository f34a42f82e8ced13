package main

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// closeTime reads from conn until the server closes it and returns how long
// that took, or fails the test if it is still open after limit. Bytes the
// server sends before closing (a response) are read and dropped.
func closeTime(t *testing.T, conn net.Conn, start time.Time, limit time.Duration) time.Duration {
	t.Helper()
	_ = conn.SetReadDeadline(start.Add(limit))
	_, err := io.Copy(io.Discard, conn)
	elapsed := time.Since(start)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("still open after %s", limit)
	}
	return elapsed
}

// TestDeadlinesCloseStalledConnections: a peer that stalls in any phase of
// a connection is closed when that phase's deadline passes, and not by
// another phase's. The deadlines are set to distinct values so that each
// case fails if its own deadline is removed: without ReadHeaderTimeout a
// stalled header would wait for the 3 s ReadTimeout, without IdleTimeout
// an idle connection too (net/http falls back to ReadTimeout), and without
// ReadTimeout a stalled body would wait forever.
func TestDeadlinesCloseStalledConnections(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t)
	certPEM, keyPEM := pki.validServerPEM(t)
	env := append(certEnv(certPEM, keyPEM), "DEBUG_SLOW_PATH=1",
		"READ_HEADER_TIMEOUT_SECONDS=1", "READ_TIMEOUT_SECONDS=3", "WRITE_TIMEOUT_SECONDS=2", "IDLE_TIMEOUT_SECONDS=1")
	srv := startServer(t, env...)
	pp := startServer(t, append(env, "PROXY_PROTOCOL=v2", "PROXY_HEADER_TIMEOUT_SECONDS=1", "READ_HEADER_TIMEOUT_SECONDS=3")...)
	clientCfg := &tls.Config{RootCAs: pki.pool, ServerName: "localhost"}
	handshake := func(t *testing.T) *tls.Conn {
		conn, err := dialTLS(srv.addr, clientCfg, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		_ = conn.SetDeadline(time.Time{})
		return conn
	}

	cases := []struct {
		name string
		want time.Duration // the deadline that must close it
		// stall opens a connection, stalls it, and returns it with the
		// moment from which the deadline counts.
		stall func(t *testing.T) (net.Conn, time.Time)
		// then checks what else the case requires, or is nil.
		then func(t *testing.T)
	}{
		{"TLS handshake never starts", time.Second, func(t *testing.T) (net.Conn, time.Time) {
			conn, err := net.Dial("tcp", srv.addr)
			if err != nil {
				t.Fatal(err)
			}
			return conn, time.Now()
		}, nil},
		{"PROXY header never sent", time.Second, func(t *testing.T) (net.Conn, time.Time) {
			conn, err := net.Dial("tcp", pp.addr)
			if err != nil {
				t.Fatal(err)
			}
			return conn, time.Now()
		}, func(t *testing.T) {
			// Logged as what it is, not as a missing signature.
			line := pp.waitLog(t, "reason", reasonProxyHeader)
			if msg, _ := line["error"].(string); msg != "proxy protocol: no complete v2 header within 1s" {
				t.Errorf("PROXY header timeout logged as %q", msg)
			}
		}},
		{"request header never completed", time.Second, func(t *testing.T) (net.Conn, time.Time) {
			conn := handshake(t)
			start := time.Now()
			fmt.Fprint(conn, "GET / HTTP/1.1\r\nHost: localhost\r\n")
			return conn, start
		}, nil},
		{"announced body never sent", 3 * time.Second, func(t *testing.T) (net.Conn, time.Time) {
			conn := handshake(t)
			start := time.Now()
			fmt.Fprint(conn, "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n")
			return conn, start
		}, nil},
		{"body trickled a byte at a time", 3 * time.Second, func(t *testing.T) (net.Conn, time.Time) {
			conn := handshake(t)
			start := time.Now()
			fmt.Fprint(conn, "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n")
			go func() {
				for range 20 {
					time.Sleep(300 * time.Millisecond)
					if _, err := conn.Write([]byte("x")); err != nil {
						return
					}
				}
			}()
			return conn, start
		}, nil},
		{"keep-alive connection left idle", time.Second, func(t *testing.T) (net.Conn, time.Time) {
			conn := handshake(t)
			if _, status, err := getInfo(conn, "localhost"); err != nil || status != http.StatusOK {
				t.Fatalf("GET /: %d, %v", status, err)
			}
			return conn, time.Now()
		}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			conn, start := c.stall(t)
			defer conn.Close()
			got := closeTime(t, conn, start, c.want+3*time.Second)
			if got < c.want-300*time.Millisecond || got > c.want+1500*time.Millisecond {
				t.Errorf("closed after %s, want about %s", got.Round(time.Millisecond), c.want)
			}
			if c.then != nil {
				c.then(t)
			}
		})
	}

	// A client that does not read the response: the write deadline (2 s)
	// cuts the response, which would otherwise wait for the client forever.
	t.Run("response never read", func(t *testing.T) {
		t.Parallel()
		conn := handshake(t)
		const n = maxBytes
		fmt.Fprintf(conn, "GET /bytes?n=%d HTTP/1.1\r\nHost: localhost\r\n\r\n", n)
		time.Sleep(3 * time.Second)
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.Copy(io.Discard, resp.Body)
		if got == n || err == nil {
			t.Errorf("read %d of %d bytes (%v): the response waited for the client", got, n, err)
		}
	})
}

// TestShutdownWithStalledClients: with the default deadlines and the
// examples' 15 s shutdown budget, SIGTERM while clients stall in every
// phase still ends in a clean exit within the budget, and a request in
// flight completes. The stalled connections are closed by their own
// deadlines (5 s), not by the shutdown's.
func TestShutdownWithStalledClients(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t)
	certPEM, keyPEM := pki.validServerPEM(t)
	srv := startServer(t, append(certEnv(certPEM, keyPEM), "DEBUG_SLOW_PATH=1", "SHUTDOWN_TIMEOUT_SECONDS=15")...)
	clientCfg := &tls.Config{RootCAs: pki.pool, ServerName: "localhost"}
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	open := func(n int, stall func(*tls.Conn)) {
		for range n {
			conn, err := dialTLS(srv.addr, clientCfg, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			_ = conn.SetDeadline(time.Time{})
			stall(conn)
			conns = append(conns, conn)
		}
	}
	for range 30 {
		conn, err := net.Dial("tcp", srv.addr) // never starts TLS
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
	}
	open(10, func(c *tls.Conn) { fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: localhost\r\n") })
	open(20, func(c *tls.Conn) { fmt.Fprint(c, "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n") })
	open(3, func(c *tls.Conn) { fmt.Fprintf(c, "GET /bytes?n=%d HTTP/1.1\r\nHost: localhost\r\n\r\n", maxBytes) })
	open(5, func(c *tls.Conn) { _, _, _ = getInfo(c, "localhost") })

	inFlight, err := dialTLS(srv.addr, clientCfg, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer inFlight.Close()
	_ = inFlight.SetDeadline(time.Time{})
	resp := slowRequest(t, inFlight, time.Second)

	start := time.Now()
	srv.signal(t, syscall.SIGTERM)
	code := srv.wait(15 * time.Second)
	elapsed := time.Since(start)
	if code != 0 {
		t.Fatalf("exit code %d after %s, want 0 within the 15 s budget\n%s", code, elapsed, srv.stdout)
	}
	if body, err := io.ReadAll(resp.Body); err != nil || string(body) != "done\n" {
		t.Errorf("in-flight request: %q, %v", body, err)
	}
	var phases []string
	for _, line := range srv.stdout.jsonLines() {
		if p, ok := line["phase"].(string); ok {
			phases = append(phases, p)
		}
	}
	if want := []string{"signal", "stop_accepting", "complete"}; !slices.Equal(phases, want) {
		t.Errorf("phases %v, want %v", phases, want)
	}
	t.Logf("%d stalled connections open at SIGTERM; exited 0 after %s", len(conns), elapsed.Round(time.Millisecond))
	if strings.Contains(srv.stdout.String(), `"phase":"timeout"`) {
		t.Error("shutdown timed out")
	}
}
