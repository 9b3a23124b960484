package dnsserver

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/steer-gslb/steer/config"
)

// pipeConn returns the server end of a connection and a func that reports
// whether the server end was closed (seen from the client end).
func pipeConn(t *testing.T) (net.Conn, func() bool) {
	t.Helper()
	srv, cl := net.Pipe()
	t.Cleanup(func() { _ = srv.Close(); _ = cl.Close() })
	return srv, func() bool {
		_ = cl.SetReadDeadline(time.Now().Add(time.Millisecond))
		_, err := cl.Read(make([]byte, 1))
		return errors.Is(err, io.EOF)
	}
}

func TestTCPTablePerClientAndFull(t *testing.T) {
	var tab tcpTable
	lim := config.TCP{MaxConnections: 4, MaxPerClient: 2, BusyIdleTimeout: time.Hour, IOTimeout: time.Second}
	now := time.Unix(1000, 0)
	var conns []*tcpConn
	var closed []func() bool
	admit := func(addr string, want int) *tcpConn {
		t.Helper()
		c, isClosed := pipeConn(t)
		tc, why := tab.admit(c, tcpClient(netip.MustParseAddr(addr)), lim, now)
		if (tc == nil) != (want >= 0) || (tc == nil && why != want) {
			t.Fatalf("admit %s: %v reason %d, want refusal %d", addr, tc, why, want)
		}
		if tc != nil {
			conns = append(conns, tc)
			closed = append(closed, isClosed)
		}
		now = now.Add(time.Millisecond)
		return tc
	}
	admit("192.0.2.1", -1)
	admit("192.0.2.2", -1)
	admit("192.0.2.3", tcpRefusedPerClient) // third of its /24
	admit("2001:db8:1:100::1", -1)
	admit("2001:db8:1:1ff::1", -1)
	admit("2001:db8:1:1ff::2", tcpRefusedPerClient) // third of its /56
	if tab.openConns() != 4 || tab.refused[tcpRefusedPerClient].Load() != 2 {
		t.Fatalf("open %d refused %d", tab.openConns(), tab.refused[tcpRefusedPerClient].Load())
	}
	// Full: the connection idle longest makes room. conns[0] became busy
	// and idle again, so conns[1] is the oldest idle one.
	if !tab.busy(conns[0]) {
		t.Fatal("busy: reclaimed")
	}
	tab.idle(conns[0], 10*time.Second, lim, now)
	admit("198.51.100.1", -1)
	if !closed[1]() || closed[0]() || tab.reclaimed[tcpReclaimedEvicted].Load() != 1 || tab.openConns() != 4 {
		t.Fatalf("eviction: closed %v %v, evicted %d, open %d", closed[1](), closed[0](), tab.reclaimed[tcpReclaimedEvicted].Load(), tab.openConns())
	}
	if tab.busy(conns[1]) {
		t.Error("reclaimed connection reported busy")
	}
	tab.release(conns[1]) // its goroutine leaves: no double free
	if tab.openConns() != 4 || tab.perClient[tcpClient(netip.MustParseAddr("192.0.2.1"))] != 1 {
		t.Fatalf("after release of the reclaimed: open %d, per client %v", tab.openConns(), tab.perClient)
	}
	// Every connection busy: a newcomer is refused.
	for _, tc := range conns {
		tab.busy(tc)
	}
	admit("198.51.100.2", tcpRefusedFull)
	// A released slot is free again, and its client forgotten.
	tab.release(conns[0])
	if _, ok := tab.perClient[tcpClient(netip.MustParseAddr("192.0.2.1"))]; ok || tab.openConns() != 3 {
		t.Fatalf("after release: open %d, per client %v", tab.openConns(), tab.perClient)
	}
	admit("192.0.2.9", -1)
}

func TestTCPTablePressure(t *testing.T) {
	var tab tcpTable
	lim := config.TCP{MaxConnections: 4, MaxPerClient: 4, BusyIdleTimeout: time.Second, IOTimeout: time.Second}
	now := time.Unix(1000, 0)
	var closed []func() bool
	for i := range 3 {
		c, isClosed := pipeConn(t)
		if tc, _ := tab.admit(c, tcpClient(netip.AddrFrom4([4]byte{192, 0, byte(i), 1})), lim, now); tc == nil {
			t.Fatal("refused")
		}
		closed = append(closed, isClosed)
	}
	// Three of four open is more than half: idle waits are short.
	c, _ := pipeConn(t)
	tc, _ := tab.admit(c, tcpClient(netip.MustParseAddr("192.0.9.1")), lim, now.Add(500*time.Millisecond))
	if tc == nil {
		t.Fatal("refused")
	}
	if wait, short := tab.idle(tc, 10*time.Second, lim, now.Add(500*time.Millisecond)); wait != time.Second || !short {
		t.Errorf("idle under pressure: %v %v, want 1s, short", wait, short)
	}
	// A newcomer 2 s later first closes those idle for a second or more.
	c, _ = pipeConn(t)
	if tc, _ := tab.admit(c, tcpClient(netip.MustParseAddr("192.0.10.1")), lim, now.Add(1200*time.Millisecond)); tc == nil {
		t.Fatal("refused")
	}
	for i, f := range closed {
		if !f() {
			t.Errorf("connection %d idle 1.2 s under pressure not reclaimed", i)
		}
	}
	if n := tab.reclaimed[tcpReclaimedBusy].Load(); n != 3 || tab.openConns() != 2 {
		t.Errorf("reclaimed %d, open %d; want 3, 2", n, tab.openConns())
	}
	if wait, short := tab.idle(tc, 10*time.Second, lim, now); wait != 10*time.Second || short {
		t.Errorf("idle without pressure: %v %v, want 10s", wait, short)
	}
}
