package main

import (
	"net"
	"net/netip"
	"sync"
)

// gateListener decides, before reading a byte, whether a new connection may
// take up memory at all. Behind a passthrough NLB nothing else does: the
// load balancer neither caps connections nor buffers requests for the
// task. It refuses
//
//   - every connection beyond max open ones (MAX_CONNECTIONS), so that a
//     flood of idle or stalled connections runs into a number sized to the
//     task's memory instead of into the out-of-memory killer;
//   - with trusted prefixes (PROXY_TRUSTED_CIDRS), every peer outside them.
//     Requiring a PROXY header is not authentication, anyone who reaches
//     the port can write one; the NLB connects from its private addresses
//     in the VPC (client IP preservation is off on Passthrough's target
//     groups), so the VPC's ranges are the sources to trust. 127.0.0.1 and
//     ::1 are always trusted: the container's own -healthcheck connects
//     from there.
//
// A refused connection is reset at once rather than left in the kernel's
// accept queue, where it would hold the place of a well-behaved client and
// be invisible; refusals are counted and logged sampled.
type gateListener struct {
	net.Listener
	trusted []netip.Prefix // nil: any peer
	slots   chan struct{}  // one token per open connection
	events  *failureLog
}

func newGateListener(ln net.Listener, maxConns int, trusted []netip.Prefix, events *failureLog) *gateListener {
	return &gateListener{Listener: ln, trusted: trusted, slots: make(chan struct{}, maxConns), events: events}
}

func (l *gateListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if !l.isTrusted(addrOf(c.RemoteAddr())) {
			refuse(c)
			l.events.refused(reasonUntrustedSource, c.RemoteAddr().String(), "source address not in PROXY_TRUSTED_CIDRS")
			continue
		}
		select {
		case l.slots <- struct{}{}:
			return &gateConn{Conn: c, slots: l.slots}, nil
		default:
			refuse(c)
			l.events.refused(reasonOverCapacity, c.RemoteAddr().String(), "MAX_CONNECTIONS connections already open")
		}
	}
}

func (l *gateListener) isTrusted(peer netip.Addr) bool {
	if l.trusted == nil || peer == netip.IPv6Loopback() || peer == netip.AddrFrom4([4]byte{127, 0, 0, 1}) {
		return true
	}
	for _, p := range l.trusted {
		if p.Contains(peer) {
			return true
		}
	}
	return false
}

// gateConn gives its slot back when closed, once: net/http closes a
// connection on every path, and Shutdown may close an idle one as well.
type gateConn struct {
	net.Conn
	slots chan struct{}
	once  sync.Once
}

func (c *gateConn) Close() error {
	c.once.Do(func() { <-c.slots })
	return c.Conn.Close()
}

// addrOf is the IP of a TCP address, IPv4-mapped IPv6 unmapped, so that
// 10.0.0.0/8 matches a client of a dual-stack listener.
func addrOf(a net.Addr) netip.Addr {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// refuse closes a connection with a reset rather than a FIN: the peer
// learns at once, and the server keeps no TIME_WAIT state for it.
func refuse(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}
