package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
)

// benchTargets starts a server and a passthrough proxy in front of it and
// returns the two addresses to compare.
func benchTargets(b *testing.B) (pki *testPKI, targets []struct{ name, addr string }) {
	b.Helper()
	pki = newTestPKI(b)
	certPEM, keyPEM := pki.validServerPEM(b)
	srv := startServer(b, append(certEnv(certPEM, keyPEM), "DEBUG_SLOW_PATH=1")...)
	proxy := startTCPProxy(b, "127.0.0.1:0", srv.addr, proxyOptions{})
	return pki, []struct{ name, addr string }{{"direct", srv.addr}, {"via-proxy", proxy}}
}

// BenchmarkHandshake measures full TLS 1.3 handshakes (no session
// resumption), each on a new TCP connection.
func BenchmarkHandshake(b *testing.B) {
	pki, targets := benchTargets(b)
	for _, tt := range targets {
		b.Run(tt.name, func(b *testing.B) {
			cfg := &tls.Config{RootCAs: pki.pool, ServerName: "localhost"}
			for b.Loop() {
				conn, err := tls.Dial("tcp", tt.addr, cfg)
				if err != nil {
					b.Fatal(err)
				}
				conn.Close()
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
		})
	}
}

// BenchmarkDownload measures bulk throughput: 1 MiB responses from
// /bytes over one kept-alive TLS connection.
func BenchmarkDownload(b *testing.B) {
	const size = 1 << 20
	pki, targets := benchTargets(b)
	for _, tt := range targets {
		b.Run(tt.name, func(b *testing.B) {
			var d net.Dialer
			tr := &http.Transport{
				DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
					return d.DialContext(ctx, "tcp", tt.addr)
				},
				TLSClientConfig: &tls.Config{RootCAs: pki.pool, ServerName: "localhost"},
			}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr}
			url := fmt.Sprintf("https://localhost/bytes?n=%d", size)
			b.SetBytes(size)
			for b.Loop() {
				resp, err := client.Get(url)
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || n != size {
					b.Fatalf("read %d bytes, %v", n, err)
				}
			}
		})
	}
}
