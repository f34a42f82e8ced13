package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// TestProxyHeaderRoundTrip: what writeProxyHeader sends (as the NLB and the
// health check do), readProxyHeader reads back, consuming exactly the
// header: the TLS bytes after it stay in the stream.
func TestProxyHeaderRoundTrip(t *testing.T) {
	tcp := func(s string) *net.TCPAddr {
		a, err := net.ResolveTCPAddr("tcp", s)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	tests := []struct {
		name     string
		src, dst net.Addr
	}{
		{"tcp4", tcp("203.0.113.7:50412"), tcp("10.0.1.5:8443")},
		{"tcp6", tcp("[2001:db8::7]:50412"), tcp("[2600:1f18::5]:8443")},
		{"local", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := writeProxyHeader(&buf, tt.src, tt.dst); err != nil {
				t.Fatal(err)
			}
			buf.WriteString("\x16\x03\x01 the ClientHello")
			src, dst, err := readProxyHeader(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if addrString(src) != addrString(tt.src) || addrString(dst) != addrString(tt.dst) {
				t.Errorf("read %v -> %v, wrote %v -> %v", src, dst, tt.src, tt.dst)
			}
			if rest := buf.String(); rest != "\x16\x03\x01 the ClientHello" {
				t.Errorf("left %q in the stream", rest)
			}
		})
	}
}

func addrString(a net.Addr) string {
	if a == nil {
		return "<nil>"
	}
	return a.String()
}

// TestProxyHeaderRefusals: only a well-formed v2 header is accepted, and
// each refusal says why. The NLB never sends v1, so v1 is refused.
func TestProxyHeaderRefusals(t *testing.T) {
	v2 := func(verCmd, fam byte, payload []byte) string {
		b := append([]byte(proxySignature), verCmd, fam)
		b = binary.BigEndian.AppendUint16(b, uint16(len(payload)))
		return string(append(b, payload...))
	}
	addrs4 := make([]byte, 12)
	tests := []struct {
		name, input string
		want        string // substring of the error
	}{
		{"v1", "PROXY TCP4 203.0.113.7 10.0.1.5 50412 8443\r\n\x16\x03\x01", "v1 header refused"},
		{"v1 short", "PROXY UNKNOWN\r\n", "v1 header refused"},
		{"ClientHello, no header", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 random bytes", "no v2 signature"},
		{"HTTP, no header", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "no v2 signature"},
		{"garbage", strings.Repeat("\x00", 16), "no v2 signature"},
		{"version 1 in binary", v2(0x11, proxyFamTCP4, addrs4), "version 1"},
		{"unknown command", v2(0x2f, proxyFamTCP4, addrs4), "unknown command"},
		{"UDP", v2(0x21, 0x12, addrs4), "address family"},
		{"unspecified family under PROXY", v2(0x21, 0x00, nil), "address family"},
		{"too short for addresses", v2(0x21, proxyFamTCP6, addrs4), "cannot hold"},
		{"over the size limit", v2(0x21, proxyFamTCP4, make([]byte, maxProxyPayload+1)), "at most 1024"},
		{"truncated", v2(0x21, proxyFamTCP4, addrs4)[:20], "unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := readProxyHeader(strings.NewReader(tt.input))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
	// A LOCAL header of any family is the load balancer's own check.
	if src, _, err := readProxyHeader(strings.NewReader(v2(0x20, 0x00, nil))); err != nil || src != nil {
		t.Errorf("LOCAL: %v, %v", src, err)
	}
	// TLVs after the addresses (the VPC endpoint ID behind PrivateLink)
	// are skipped.
	tlv := append(append([]byte{}, addrs4...), 0xea, 0x00, 0x05, 0x01, 'v', 'p', 'c', 'e')
	if _, _, err := readProxyHeader(strings.NewReader(v2(0x21, proxyFamTCP4, tlv))); err != nil {
		t.Errorf("header with a TLV: %v", err)
	}
}

// FuzzReadProxyHeader: no input panics, and none makes the reader consume
// more than the header it announces.
func FuzzReadProxyHeader(f *testing.F) {
	var buf bytes.Buffer
	_ = writeProxyHeader(&buf, &net.TCPAddr{IP: net.IPv4(203, 0, 113, 7), Port: 1}, &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 2})
	f.Add(buf.Bytes())
	f.Add([]byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"))
	f.Add([]byte(proxySignature + "\x21\x21\x00\x24"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		_, _, err := readProxyHeader(r)
		if err == nil {
			announced := proxyHeaderLen + int(binary.BigEndian.Uint16(b[14:16]))
			if consumed := len(b) - r.Len(); consumed != announced {
				t.Errorf("consumed %d bytes of a %d-byte header", consumed, announced)
			}
		}
	})
}

// TestProxyConnHeaderTimeout: a peer that sends no header is cut after the
// header timeout with an error that says so (not "signature not present"),
// and the deadline the connection's user set afterwards still applies.
func TestProxyConnHeaderTimeout(t *testing.T) {
	ln := mustListen(t, "127.0.0.1:0")
	defer ln.Close()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	raw, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c := &proxyConn{Conn: raw, timeout: 200 * time.Millisecond}
	defer c.Close()

	// Were the header read unbounded, this guard would end it (by closing
	// the connection) and the checks below would fail.
	guard := time.AfterFunc(3*time.Second, func() { raw.Close() })
	defer guard.Stop()
	start := time.Now()
	if got := c.RemoteAddr().String(); got != peer.LocalAddr().String() {
		t.Errorf("RemoteAddr after a failed header = %s, want the peer's own %s", got, peer.LocalAddr())
	}
	_, err = c.Read(make([]byte, 1))
	if err == nil || err.Error() != "proxy protocol: no complete v2 header within 200ms" {
		t.Errorf("Read = %v", err)
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > 2*time.Second {
		t.Errorf("gave up after %s, want about 200ms", d)
	}
}

// TestProxyConnKeepsUserDeadline: an earlier deadline set by the user of the
// connection (net/http's handshake deadline) bounds the header read too,
// and is in force again after it.
func TestProxyConnKeepsUserDeadline(t *testing.T) {
	ln := mustListen(t, "127.0.0.1:0")
	defer ln.Close()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	raw, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c := &proxyConn{Conn: raw, timeout: time.Minute}
	defer c.Close()
	guard := time.AfterFunc(3*time.Second, func() { raw.Close() })
	defer guard.Stop()
	if err := c.SetReadDeadline(time.Now().Add(100 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := writeProxyHeader(peer, nil, nil); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.Read(make([]byte, 1)) // header fine, then nothing: the user's deadline
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Read = %v, want the user's deadline", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("read ended after %s", d)
	}
}
