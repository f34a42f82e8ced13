package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The attack suite runs hostile and clumsy clients against the server
// binary on loopback, measures what they cost it, and checks that
// well-behaved clients keep being served meanwhile. Every loop is bounded
// by the phase's deadline and every connection by a deadline of its own.
//
// The regular tests run a small version (a few seconds); the full one,
// whose figures README.md records, runs with
//
//	TLSSERVER_ATTACK=full go test -run 'TestAttack|TestHandshakeCapacity' -v -timeout 10m .
//
// (make attack at the repository root).
var attackFull = os.Getenv("TLSSERVER_ATTACK") == "full"

// attackSize is how hard the suite pushes.
type attackSize struct {
	idle, stalled         int           // connections held open at once
	hostile, garbage      int           // workers looping
	good                  int           // well-behaved workers
	baseline, duration    time.Duration // good clients alone, then under attack
	chainLen              int           // intermediates in the hostile chain
	cpuNormal, cpuHostile int           // handshakes for the CPU comparison
}

var (
	smallAttack = attackSize{idle: 200, stalled: 20, hostile: 1, garbage: 1, good: 2,
		baseline: time.Second, duration: 2 * time.Second, chainLen: 60, cpuNormal: 50, cpuHostile: 10}
	fullAttack = attackSize{idle: 2000, stalled: 300, hostile: 2, garbage: 2, good: 4,
		baseline: 5 * time.Second, duration: 15 * time.Second, chainLen: 200, cpuNormal: 500, cpuHostile: 100}
)

// procRSS is the resident memory of process pid.
func procRSS(tb testing.TB, pid int) int64 {
	tb.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	tb.Fatal("no VmRSS")
	return 0
}

// procCPU is the CPU time process pid has used, all threads together, from
// the scheduler's nanosecond counters (Go's threads live as long as the
// process, so none of them takes its time away with it).
func procCPU(tb testing.TB, pid int) time.Duration {
	tb.Helper()
	dirs, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(dirs) == 0 {
		tb.Skipf("no /proc schedstat: %v", err)
	}
	var total time.Duration
	for _, path := range dirs {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // a thread that just ended
		}
		ns, _ := strconv.ParseInt(strings.Fields(string(b))[0], 10, 64)
		total += time.Duration(ns)
	}
	return total
}

// hostileChain is the chain from the review: a client leaf followed by n
// intermediates that all carry the name of the leaf's issuer, each with
// its own P-521 key, none of which signed the leaf. A verifier that looks
// for the leaf's parent among them checks a signature for each candidate,
// up to x509's limit of 100.
func hostileChain(tb testing.TB, n int) tls.Certificate {
	tb.Helper()
	now := time.Now()
	lookAlike := pkix.Name{CommonName: "client intermediate"}
	key := func(c elliptic.Curve) *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			tb.Fatal(err)
		}
		return k
	}
	leafKey, forger := key(elliptic.P256()), key(elliptic.P521())
	leaf, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "hostile"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, &x509.Certificate{Subject: lookAlike, SubjectKeyId: []byte{1}}, leafKey.Public(), forger)
	if err != nil {
		tb.Fatal(err)
	}
	chain := [][]byte{leaf}
	for i := range n {
		k := key(elliptic.P521())
		der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
			SerialNumber:          big.NewInt(int64(i + 2)),
			Subject:               lookAlike,
			NotBefore:             now.Add(-time.Hour),
			NotAfter:              now.Add(time.Hour),
			KeyUsage:              x509.KeyUsageCertSign,
			BasicConstraintsValid: true,
			IsCA:                  true,
			SubjectKeyId:          []byte{1},
		}, &x509.Certificate{Subject: pkix.Name{CommonName: "test CA"}}, k.Public(), k)
		if err != nil {
			tb.Fatal(err)
		}
		chain = append(chain, der)
	}
	return tls.Certificate{Certificate: chain, PrivateKey: leafKey}
}

// attacker knows how to reach a server with mutual TLS and PROXY
// protocol on, as a client behind the NLB would.
type attacker struct {
	addr    string
	good    *tls.Config // a valid client certificate
	hostile *tls.Config // the hostile chain
}

var fakeClient = &net.TCPAddr{IP: net.IPv4(203, 0, 113, 7), Port: 50412}

// dial connects and sends the PROXY header the NLB would; every connection
// ends at the phase's end at the latest.
func (a *attacker) dial(end time.Time) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", a.addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(end)
	if err := writeProxyHeader(c, fakeClient, c.RemoteAddr()); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// request makes one well-behaved request on a new connection: PROXY
// header, full TLS handshake with a client certificate, GET /.
func (a *attacker) request(end time.Time) error {
	c, err := a.dial(earlier(end, time.Now().Add(10*time.Second)))
	if err != nil {
		return err
	}
	defer c.Close()
	tc := tls.Client(c, a.good)
	if err := tc.Handshake(); err != nil {
		return err
	}
	_, status, err := getInfo(tc, "localhost")
	if err == nil && status != 200 {
		err = fmt.Errorf("status %d", status)
	}
	return err
}

// handshake runs one TLS handshake with config and reads the server's
// answer to GET /; it returns nil only if the server served it.
func (a *attacker) handshake(config *tls.Config, end time.Time) error {
	c, err := a.dial(earlier(end, time.Now().Add(10*time.Second)))
	if err != nil {
		return err
	}
	defer c.Close()
	tc := tls.Client(c, config)
	if err := tc.Handshake(); err != nil {
		return err
	}
	_, _, err = getInfo(tc, "localhost")
	return err
}

// holdUntilClosed reads until the server closes c or the phase ends, and
// reports whether the server closed it.
func holdUntilClosed(c net.Conn) bool {
	buf := make([]byte, 512)
	for {
		if _, err := c.Read(buf); err != nil {
			ne, ok := err.(net.Error)
			return !ok || !ne.Timeout()
		}
	}
}

// counters of one phase.
type attackCounts struct {
	idleOpened, stalledOpened, hostileTried, hostileServed atomic.Int64
	garbageSent, garbageServed, goodOK, goodFailed         atomic.Int64
}

// latencies collects good clients' request times.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) { l.mu.Lock(); l.d = append(l.d, d); l.mu.Unlock() }

func (l *latencies) percentile(p float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return 0
	}
	s := slices.Clone(l.d)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// runGood runs n well-behaved workers until end.
func runGood(a *attacker, n int, end time.Time, lat *latencies, counts *attackCounts) *sync.WaitGroup {
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for time.Now().Before(end) {
				start := time.Now()
				if err := a.request(end); err != nil {
					if time.Now().Before(end) {
						counts.goodFailed.Add(1)
					}
					continue
				}
				lat.add(time.Since(start))
				counts.goodOK.Add(1)
			}
		})
	}
	return &wg
}

// garbage is what the garbage workers send, in turn.
var garbage = []struct {
	name  string
	write func(a *attacker, end time.Time) (net.Conn, error)
}{
	{"bytes after a PROXY header", func(a *attacker, end time.Time) (net.Conn, error) {
		c, err := a.dial(end)
		if err == nil {
			_, err = c.Write(bytes.Repeat([]byte{0x16, 0x03, 0x01, 0xff}, 64))
		}
		return c, err
	}},
	{"TLS without a PROXY header", func(a *attacker, end time.Time) (net.Conn, error) {
		c, err := net.DialTimeout("tcp", a.addr, 5*time.Second)
		if err == nil {
			_ = c.SetDeadline(end)
			tc := tls.Client(c, a.good)
			_ = tc.Handshake()
		}
		return c, err
	}},
	{"PROXY v1 header", func(a *attacker, end time.Time) (net.Conn, error) {
		c, err := net.DialTimeout("tcp", a.addr, 5*time.Second)
		if err == nil {
			_ = c.SetDeadline(end)
			fmt.Fprintf(c, "PROXY TCP4 203.0.113.7 10.0.1.5 50412 8443\r\n")
			tc := tls.Client(c, a.good)
			_ = tc.Handshake()
		}
		return c, err
	}},
	{"valid header from an untrusted source", func(a *attacker, end time.Time) (net.Conn, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", a.addr)
		if err == nil {
			_ = c.SetDeadline(end)
			_ = writeProxyHeader(c, fakeClient, c.RemoteAddr())
			tc := tls.Client(c, a.good)
			_ = tc.Handshake()
		}
		return c, err
	}},
}

// runAttack starts every attacker; they stop at end.
func runAttack(a *attacker, size attackSize, end time.Time, counts *attackCounts) *sync.WaitGroup {
	var wg sync.WaitGroup
	// Idle: connect, send nothing, reconnect when the server hangs up.
	for range size.idle {
		wg.Go(func() {
			for time.Now().Before(end) {
				c, err := net.DialTimeout("tcp", a.addr, 5*time.Second)
				if err != nil {
					time.Sleep(50 * time.Millisecond)
					continue
				}
				_ = c.SetDeadline(end)
				counts.idleOpened.Add(1)
				holdUntilClosed(c)
				c.Close()
			}
		})
	}
	// Stalled bodies: an authenticated client announces a body and never
	// sends it.
	for range size.stalled {
		wg.Go(func() {
			for time.Now().Before(end) {
				c, err := a.dial(end)
				if err != nil {
					time.Sleep(50 * time.Millisecond)
					continue
				}
				tc := tls.Client(c, a.good)
				if tc.Handshake() == nil {
					fmt.Fprint(tc, "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n")
					counts.stalledOpened.Add(1)
					holdUntilClosed(tc)
				}
				c.Close()
			}
		})
	}
	for range size.hostile {
		wg.Go(func() {
			for time.Now().Before(end) {
				counts.hostileTried.Add(1)
				if a.handshake(a.hostile, end) == nil {
					counts.hostileServed.Add(1)
				}
			}
		})
	}
	for range size.garbage {
		wg.Go(func() {
			for i := 0; time.Now().Before(end); i++ {
				c, err := garbage[i%len(garbage)].write(a, end)
				if err != nil {
					continue
				}
				counts.garbageSent.Add(1)
				if _, _, err := getInfo(c, "localhost"); err == nil {
					counts.garbageServed.Add(1)
				}
				c.Close()
			}
		})
	}
	return &wg
}

// startAttackTarget starts the server as a task behind a passthrough NLB
// would run it: mutual TLS, PROXY protocol with the VPC's range trusted,
// a 512 MiB task, the examples' 15 s shutdown budget.
func startAttackTarget(t *testing.T, extra ...string) (*serverProc, *attacker) {
	t.Helper()
	pki := newTestPKI(t)
	certPEM, keyPEM := pki.validServerPEM(t)
	env := append(certEnv(certPEM, keyPEM),
		"TLS_CLIENT_CA="+string(pki.caPEM),
		"PROXY_PROTOCOL=v2",
		"PROXY_TRUSTED_CIDRS=10.0.0.0/16",
		"MEMORY_LIMIT_MIB=512",
		"SHUTDOWN_TIMEOUT_SECONDS=15",
		"STOP_TIMEOUT_SECONDS=30",
	)
	srv := startServer(t, append(env, extra...)...)
	client := pki.clientCert(t, "good client")
	return srv, &attacker{
		addr:    srv.addr,
		good:    &tls.Config{RootCAs: pki.pool, ServerName: "localhost", Certificates: []tls.Certificate{client}},
		hostile: &tls.Config{RootCAs: pki.pool, ServerName: "localhost"},
	}
}

// TestAttack: thousands of idle connections, hundreds of stalled bodies,
// hostile client chains, garbage, PROXY v1 headers and untrusted sources,
// all at once, while well-behaved clients keep being served; then SIGTERM
// under attack ends in a clean exit. Reports memory per connection, CPU
// per hostile handshake against a normal one, and good clients' latency
// alone and under attack.
func TestAttack(t *testing.T) {
	size := smallAttack
	if attackFull {
		size = fullAttack
	} else {
		t.Parallel()
	}
	srv, a := startAttackTarget(t)
	pid := srv.cmd.Process.Pid
	a.hostile.Certificates = []tls.Certificate{hostileChain(t, size.chainLen)}
	report := func(format string, args ...any) { t.Logf(format, args...) }
	time.Sleep(200 * time.Millisecond)

	// Memory per idle connection: connections that sent nothing yet (the
	// server waits for their PROXY header).
	rss0 := procRSS(t, pid)
	end := time.Now().Add(4 * time.Second)
	var idle []net.Conn
	for range size.idle {
		c, err := net.DialTimeout("tcp", a.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(end)
		idle = append(idle, c)
	}
	time.Sleep(time.Second)
	rssIdle := procRSS(t, pid)
	perIdle := float64(rssIdle-rss0) / float64(size.idle)
	for _, c := range idle {
		c.Close()
	}

	// Memory per stalled request: authenticated, request header read, the
	// body never sent; the costliest kind of connection to hold.
	time.Sleep(500 * time.Millisecond)
	rss1 := procRSS(t, pid)
	end = time.Now().Add(4 * time.Second)
	var stalled []net.Conn
	for range size.stalled {
		c, err := a.dial(end)
		if err != nil {
			t.Fatal(err)
		}
		tc := tls.Client(c, a.good)
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(tc, "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n")
		stalled = append(stalled, c)
	}
	time.Sleep(500 * time.Millisecond)
	rssStalled := procRSS(t, pid)
	perStalled := float64(rssStalled-rss1) / float64(size.stalled)
	for _, c := range stalled {
		c.Close()
	}
	report("memory: %.1f KiB per idle connection (%d open), %.1f KiB per stalled request (%d open); RSS %.1f MiB at rest",
		perIdle/1024, size.idle, perStalled/1024, size.stalled, float64(rss0)/(1<<20))

	// Server CPU per handshake: normal (full handshake with a client
	// certificate, then GET /) against hostile (the long chain), one at a
	// time.
	far := time.Now().Add(time.Minute)
	cpu0 := procCPU(t, pid)
	for range size.cpuNormal {
		if err := a.request(far); err != nil {
			t.Fatalf("normal request: %v", err)
		}
	}
	cpu1 := procCPU(t, pid)
	for range size.cpuHostile {
		if a.handshake(a.hostile, far) == nil {
			t.Fatal("the hostile chain was served")
		}
	}
	cpu2 := procCPU(t, pid)
	normal := (cpu1 - cpu0) / time.Duration(size.cpuNormal)
	hostile := (cpu2 - cpu1) / time.Duration(size.cpuHostile)
	chainBytes := 0
	for _, c := range a.hostile.Certificates[0].Certificate {
		chainBytes += len(c)
	}
	report("CPU: %s per normal handshake, %s per hostile one (%d certificates, %d KiB): %.1f×",
		normal.Round(time.Microsecond), hostile.Round(time.Microsecond), size.chainLen+1, chainBytes>>10, float64(hostile)/float64(normal))
	if attackFull && hostile > 10*normal {
		t.Errorf("a hostile handshake costs %.1f normal ones, want a few", float64(hostile)/float64(normal))
	}

	// Good clients alone, then under attack.
	var base, under latencies
	var baseCounts, counts attackCounts
	runGood(a, size.good, time.Now().Add(size.baseline), &base, &baseCounts).Wait()
	report("good clients alone: %d requests, %d failed, p50 %s, p99 %s",
		baseCounts.goodOK.Load(), baseCounts.goodFailed.Load(), base.percentile(0.5).Round(time.Microsecond), base.percentile(0.99).Round(time.Microsecond))

	cpuStart, attackStart := procCPU(t, pid), time.Now()
	end = attackStart.Add(size.duration + 3*time.Second) // the attack outlasts SIGTERM
	attackers := runAttack(a, size, end, &counts)
	goodEnd := attackStart.Add(size.duration)
	time.Sleep(time.Second) // let the attack build up before measuring
	good := runGood(a, size.good, goodEnd, &under, &counts)
	var peakRSS int64
	for time.Now().Before(goodEnd) {
		peakRSS = max(peakRSS, procRSS(t, pid))
		time.Sleep(200 * time.Millisecond)
	}
	good.Wait()
	cpuUsed := procCPU(t, pid) - cpuStart
	elapsed := time.Since(attackStart)
	report("under attack (%s): %d idle and %d stalled connections held at a time (%d and %d opened), %d hostile handshakes, %d garbage connections; server CPU %.0f %% of a core, peak RSS %.1f MiB",
		size.duration, size.idle, size.stalled, counts.idleOpened.Load(), counts.stalledOpened.Load(), counts.hostileTried.Load(), counts.garbageSent.Load(),
		100*cpuUsed.Seconds()/elapsed.Seconds(), float64(peakRSS)/(1<<20))
	report("good clients under attack: %d requests, %d failed, p50 %s, p99 %s",
		counts.goodOK.Load(), counts.goodFailed.Load(), under.percentile(0.5).Round(time.Microsecond), under.percentile(0.99).Round(time.Microsecond))

	// SIGTERM while the attack goes on.
	start := time.Now()
	srv.signal(t, syscall.SIGTERM)
	code := srv.wait(15 * time.Second)
	report("SIGTERM under attack: exit %d after %s", code, time.Since(start).Round(time.Millisecond))
	attackers.Wait()

	if code != 0 {
		t.Errorf("exit %d after SIGTERM under attack, want 0 within the 15 s budget", code)
	}
	if n := counts.hostileServed.Load(); n > 0 {
		t.Errorf("%d hostile handshakes served", n)
	}
	if n := counts.garbageServed.Load(); n > 0 {
		t.Errorf("%d garbage connections served", n)
	}
	if ok, failed := counts.goodOK.Load(), counts.goodFailed.Load(); ok == 0 || failed*100 > ok {
		t.Errorf("good clients under attack: %d served, %d failed; want under 1 %% failed", ok, failed)
	}
	if float64(peakRSS) > 512<<20*goMemoryShare {
		t.Errorf("peak RSS %d MiB, over Go's soft limit of a 512 MiB task", peakRSS>>20)
	}
	var warns int
	for _, line := range srv.stdout.jsonLines() {
		if line["level"] == "WARN" {
			warns++
		}
	}
	totals := map[string]int{}
	for _, line := range metricLines(srv) {
		for reason, v := range line["Reasons"].(map[string]any) {
			totals[reason] += int(v.(float64))
		}
	}
	report("log: %d warning lines for %v", warns, totals)
	if warns > 40 {
		t.Errorf("%d warning lines: failures are not sampled", warns)
	}
}

// TestHandshakeCapacity measures what a task can take: server CPU per new
// connection (handshake, then GET /) for an ECDSA P-256 and an RSA-2048
// certificate, with full handshakes and with resumed sessions (TLS 1.3
// PSK with a fresh key exchange, Go's only resumption mode), as
// connections per second per core. The client is Go's, offering the
// X25519MLKEM768 hybrid the server then picks. Full suite only.
func TestHandshakeCapacity(t *testing.T) {
	if !attackFull {
		t.Skip("part of the full attack suite: TLSSERVER_ATTACK=full")
	}
	pki := newTestPKI(t)
	ecCert, ecKey := pki.validServerPEM(t)
	rsaCert, rsaKey := pki.rsaServerPEM(t)
	const workers, duration = 2, 4 * time.Second
	for _, cert := range []struct {
		name      string
		pem, key  []byte
		mtls, ppv bool
	}{
		{"ECDSA P-256", ecCert, ecKey, false, false},
		{"RSA-2048", rsaCert, rsaKey, false, false},
		{"ECDSA P-256, mutual TLS and PROXY protocol", ecCert, ecKey, true, true},
	} {
		env := certEnv(cert.pem, cert.key)
		client := pki.clientCert(t, "client")
		if cert.mtls {
			env = append(env, "TLS_CLIENT_CA="+string(pki.caPEM))
		}
		if cert.ppv {
			env = append(env, "PROXY_PROTOCOL=v2")
		}
		srv := startServer(t, env...)
		pid := srv.cmd.Process.Pid
		for _, resumed := range []bool{false, true} {
			var n, resumedN atomic.Int64
			cpu0, end := procCPU(t, pid), time.Now().Add(duration)
			var wg sync.WaitGroup
			for range workers {
				cfg := &tls.Config{RootCAs: pki.pool, ServerName: "localhost", Certificates: []tls.Certificate{client}}
				if resumed {
					cfg.ClientSessionCache = tls.NewLRUClientSessionCache(8)
				}
				wg.Go(func() {
					for time.Now().Before(end) {
						c, err := net.DialTimeout("tcp", srv.addr, 5*time.Second)
						if err != nil {
							continue
						}
						_ = c.SetDeadline(time.Now().Add(5 * time.Second))
						if cert.ppv {
							_ = writeProxyHeader(c, fakeClient, c.RemoteAddr())
						}
						tc := tls.Client(c, cfg)
						if err := tc.Handshake(); err == nil {
							if _, status, err := getInfo(tc, "localhost"); err == nil && status == 200 {
								n.Add(1)
								if tc.ConnectionState().DidResume {
									resumedN.Add(1)
								}
							}
						}
						c.Close()
					}
				})
			}
			wg.Wait()
			cpu := procCPU(t, pid) - cpu0
			kind := "full"
			if resumed {
				kind = "resumed"
			}
			perConn := cpu / time.Duration(max(n.Load(), 1))
			t.Logf("%s, %s: %d connections (%d resumed) in %s, server CPU %s each: %.0f per second per core",
				cert.name, kind, n.Load(), resumedN.Load(), duration, perConn.Round(time.Microsecond), 1/perConn.Seconds())
		}
	}
}
