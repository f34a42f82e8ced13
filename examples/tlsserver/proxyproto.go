package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"
)

// PROXY protocol version 2, the binary form an NLB target group sends with
// proxy_protocol_v2.enabled (https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt).
// The server reads the header itself rather than through a library: it
// needs exactly one version, an error that says why a header was refused
// (a timeout is not a missing signature), and nothing buffered past the
// header, so the TLS handshake reads the connection directly; the format is
// small enough that this costs less than a dependency, and
// FuzzReadProxyHeader exercises it.

// proxySignature opens every v2 header; a v1 header starts with "PROXY ".
const proxySignature = "\r\n\r\n\x00\r\nQUIT\n"

const (
	proxyHeaderLen = 16 // signature, version and command, family, length
	// maxProxyPayload bounds the addresses and TLVs after the fixed part.
	// An NLB sends at most the addresses and a VPC endpoint TLV (under 100
	// bytes); the protocol allows 65535, which a hostile peer would use
	// to make the server allocate.
	maxProxyPayload = 1024

	proxyCmdLocal = 0x0
	proxyCmdProxy = 0x1
	proxyFamTCP4  = 0x11
	proxyFamTCP6  = 0x21
)

// errProxyV1 refuses the text form: an NLB never sends it, and a v1
// header is easy to forge by hand, so accepting it would only widen what
// an impostor can send.
var errProxyV1 = errors.New("proxy protocol: v1 header refused, only v2 is accepted")

var errNoSignature = errors.New("proxy protocol: no v2 signature at the start of the connection")

// readProxyHeader reads one v2 header from r, reading exactly the header's
// bytes and no more. For the PROXY command over TCP it returns the
// original source and destination; for LOCAL (a load balancer's own health
// check) it returns nil addresses, meaning "use the connection's own".
func readProxyHeader(r io.Reader) (src, dst net.Addr, err error) {
	var fixed [proxyHeaderLen]byte
	n, err := io.ReadFull(r, fixed[:])
	// What arrived decides the error, even when the rest did not arrive: a
	// peer that sent a ClientHello and waits is not a timeout.
	got := string(fixed[:min(n, len(proxySignature))])
	switch {
	case strings.HasPrefix(string(fixed[:n]), "PROXY "):
		return nil, nil, errProxyV1
	case !strings.HasPrefix(proxySignature, got):
		return nil, nil, errNoSignature
	case err != nil:
		return nil, nil, err
	case fixed[12]>>4 != 2:
		return nil, nil, fmt.Errorf("proxy protocol: version %d, only 2 is accepted", fixed[12]>>4)
	}
	cmd, fam := fixed[12]&0x0f, fixed[13]
	size := int(binary.BigEndian.Uint16(fixed[14:16]))
	if size > maxProxyPayload {
		return nil, nil, fmt.Errorf("proxy protocol: header of %d bytes, at most %d accepted", size, maxProxyPayload)
	}
	payload := make([]byte, size)
	if _, err := io.ReadFull(r, payload); err != nil {
		return nil, nil, err
	}

	switch cmd {
	case proxyCmdLocal:
		return nil, nil, nil
	case proxyCmdProxy:
	default:
		return nil, nil, fmt.Errorf("proxy protocol: unknown command %#x", cmd)
	}
	var ipLen int
	switch fam {
	case proxyFamTCP4:
		ipLen = 4
	case proxyFamTCP6:
		ipLen = 16
	default:
		// UDP and UNIX sockets do not reach a TCP listener; an unspecified
		// family under PROXY is malformed.
		return nil, nil, fmt.Errorf("proxy protocol: address family %#x, want TCP over IPv4 or IPv6", fam)
	}
	if size < 2*ipLen+4 {
		return nil, nil, fmt.Errorf("proxy protocol: %d bytes cannot hold the addresses of family %#x", size, fam)
	}
	// TLVs after the addresses (an NLB behind PrivateLink sends the VPC
	// endpoint ID) are skipped: nothing here uses them.
	srcIP, _ := netip.AddrFromSlice(payload[:ipLen])
	dstIP, _ := netip.AddrFromSlice(payload[ipLen : 2*ipLen])
	ports := payload[2*ipLen:]
	src = net.TCPAddrFromAddrPort(netip.AddrPortFrom(srcIP, binary.BigEndian.Uint16(ports[0:2])))
	dst = net.TCPAddrFromAddrPort(netip.AddrPortFrom(dstIP, binary.BigEndian.Uint16(ports[2:4])))
	return src, dst, nil
}

// writeProxyHeader writes a v2 header: PROXY with src and dst when both are
// TCP addresses of one family, LOCAL when src is nil. The health check
// sends LOCAL, as a load balancer does for its own probes; the tests send
// PROXY, as the NLB does for clients.
func writeProxyHeader(w io.Writer, src, dst net.Addr) error {
	b := []byte(proxySignature)
	if src == nil {
		b = append(b, 0x20|proxyCmdLocal, 0x00, 0, 0)
		_, err := w.Write(b)
		return err
	}
	s, ok1 := src.(*net.TCPAddr)
	d, ok2 := dst.(*net.TCPAddr)
	if !ok1 || !ok2 {
		return fmt.Errorf("proxy protocol: want TCP addresses, got %T and %T", src, dst)
	}
	sa, da := s.AddrPort(), d.AddrPort()
	sip, dip := sa.Addr().Unmap(), da.Addr().Unmap()
	fam := byte(proxyFamTCP4)
	if !sip.Is4() || !dip.Is4() {
		fam, sip, dip = proxyFamTCP6, netip.AddrFrom16(sip.As16()), netip.AddrFrom16(dip.As16())
	}
	payload := append(sip.AsSlice(), dip.AsSlice()...)
	payload = binary.BigEndian.AppendUint16(payload, sa.Port())
	payload = binary.BigEndian.AppendUint16(payload, da.Port())
	b = append(b, 0x20|proxyCmdProxy, fam)
	b = binary.BigEndian.AppendUint16(b, uint16(len(payload)))
	_, err := w.Write(append(b, payload...))
	return err
}

// proxyListener requires a PROXY v2 header on every connection. Requiring
// it is not authentication: anyone who can reach the port can write one,
// which is why the gate in front of it can limit the sources (see
// gateListener).
type proxyListener struct {
	net.Listener
	timeout time.Duration // to receive the whole header
}

func (l *proxyListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &proxyConn{Conn: c, timeout: l.timeout}, nil
}

// proxyConn reads the PROXY header on first use, from the goroutine that
// serves the connection (never the accept loop), within its own deadline:
// net/http asks for RemoteAddr before it sets the handshake deadline, so
// nothing else bounds this read.
type proxyConn struct {
	net.Conn
	timeout time.Duration

	once     sync.Once
	err      error
	src, dst net.Addr

	mu           sync.Mutex
	readDeadline time.Time // what the connection's user asked for
}

func (c *proxyConn) header() error {
	c.once.Do(func() {
		c.mu.Lock()
		deadline := time.Now().Add(c.timeout)
		if user := c.readDeadline; !user.IsZero() && user.Before(deadline) {
			deadline = user
		}
		c.mu.Unlock()
		if err := c.Conn.SetReadDeadline(deadline); err != nil {
			c.err = err
			return
		}
		c.src, c.dst, c.err = readProxyHeader(c.Conn)
		// A peer that closes or resets keeps its own error (it is a health
		// check or a scanner); a silent one gets an error that says what
		// it failed to send, not an I/O timeout mistaken for the handshake's.
		if errors.Is(c.err, os.ErrDeadlineExceeded) {
			c.err = fmt.Errorf("proxy protocol: no complete v2 header within %s", c.timeout)
		}
		c.mu.Lock()
		restore := c.readDeadline
		c.mu.Unlock()
		if err := c.Conn.SetReadDeadline(restore); err != nil && c.err == nil {
			c.err = err
		}
	})
	return c.err
}

func (c *proxyConn) Read(b []byte) (int, error) {
	if err := c.header(); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

func (c *proxyConn) Write(b []byte) (int, error) {
	if err := c.header(); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

// RemoteAddr is the client's address from the header; the connection's own
// for LOCAL, or when the header failed (the failure is then reported by
// the next Read, with that address in the log line).
func (c *proxyConn) RemoteAddr() net.Addr {
	if c.header() == nil && c.src != nil {
		return c.src
	}
	return c.Conn.RemoteAddr()
}

func (c *proxyConn) LocalAddr() net.Addr {
	if c.header() == nil && c.dst != nil {
		return c.dst
	}
	return c.Conn.LocalAddr()
}

func (c *proxyConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.readDeadline = t
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

func (c *proxyConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.readDeadline = t
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}
