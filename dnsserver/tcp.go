package dnsserver

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/steer-gslb/steer/config"
)

// TCP connections are bounded (server.tcp) so that idle or slow clients
// cannot hold every slot, as Knot's and Unbound's limits do:
//
//   - a client prefix (/24, /56) holding max_per_client connections gets no
//     more: the new one is closed at once;
//   - with max_connections open, a new connection takes the slot of the one
//     idle longest (waiting for its next query), or is closed when none is
//     idle;
//   - with more than half of max_connections open (under pressure), an idle
//     connection is closed after busy_idle_timeout instead of
//     tcp_idle_timeout, and each new connection first closes those idle
//     longer than that;
//   - once a query's length arrived, its rest must arrive, and the answer
//     be written, within io_timeout (a slow sender is not idle).
//
// The accept loop never blocks on a full table, so the listen backlog never
// fills with connections nobody will serve.

// TCP prefix lengths that make one client for max_per_client.
const (
	tcpClientBits4 = 24
	tcpClientBits6 = 56
)

// Why a TCP connection was refused, and why an idle one was closed early.
const (
	tcpRefusedPerClient = iota // its prefix holds max_per_client
	tcpRefusedFull             // max_connections open and none idle
	numTCPRefused

	tcpReclaimedEvicted = 0 // closed to make room for a new connection
	tcpReclaimedBusy    = 1 // idle for busy_idle_timeout under pressure
	numTCPReclaimed     = 2
)

var (
	tcpRefusedNames   = [numTCPRefused]string{"per_client", "full"}
	tcpReclaimedNames = [numTCPReclaimed]string{"evicted", "busy_idle_timeout"}
)

// tcpConn is one served connection in the table.
type tcpConn struct {
	c      net.Conn
	client netip.Prefix
	// The fields below are guarded by tcpTable.mu.
	idleSince  time.Time // zero while a query is being read or answered
	prev, next *tcpConn  // idle list links
	gone       bool      // released (or reclaimed): holds no slot
}

// tcpTable counts the open connections, per client and in total, and keeps
// the idle ones in the order they became idle.
type tcpTable struct {
	mu        sync.Mutex
	open      int
	perClient map[netip.Prefix]int
	head      *tcpConn // idle longest
	tail      *tcpConn

	refused   [numTCPRefused]atomic.Uint64
	reclaimed [numTCPReclaimed]atomic.Uint64
}

func tcpClient(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	bits := tcpClientBits6
	if a.Is4() {
		bits = tcpClientBits4
	}
	p, _ := a.Prefix(bits)
	return p
}

// admit takes a slot for c from client at now under the limits lim, or
// returns nil and why not.
func (t *tcpTable) admit(c net.Conn, client netip.Prefix, lim config.TCP, now time.Time) (*tcpConn, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.perClient == nil {
		t.perClient = map[netip.Prefix]int{}
	}
	if t.perClient[client] >= lim.MaxPerClient {
		t.refused[tcpRefusedPerClient].Add(1)
		return nil, tcpRefusedPerClient
	}
	if t.pressure(lim) {
		for t.head != nil && now.Sub(t.head.idleSince) >= lim.BusyIdleTimeout {
			t.reclaim(t.head, tcpReclaimedBusy)
		}
	}
	if t.open >= lim.MaxConnections {
		if t.head == nil {
			t.refused[tcpRefusedFull].Add(1)
			return nil, tcpRefusedFull
		}
		t.reclaim(t.head, tcpReclaimedEvicted)
	}
	tc := &tcpConn{c: c, client: client}
	t.open++
	t.perClient[client]++
	t.setIdle(tc, now) // until its first query arrives
	return tc, 0
}

// pressure reports whether more than half of the slots are taken.
func (t *tcpTable) pressure(lim config.TCP) bool { return 2*t.open > lim.MaxConnections }

// reclaim closes an idle connection and frees its slot; its goroutine
// finds the connection closed and leaves. t.mu is held.
func (t *tcpTable) reclaim(tc *tcpConn, why int) {
	t.unlink(tc)
	t.free(tc)
	t.reclaimed[why].Add(1)
	_ = tc.c.Close()
}

// free gives tc's slot back. t.mu is held.
func (t *tcpTable) free(tc *tcpConn) {
	if tc.gone {
		return
	}
	tc.gone = true
	t.open--
	if n := t.perClient[tc.client] - 1; n > 0 {
		t.perClient[tc.client] = n
	} else {
		delete(t.perClient, tc.client)
	}
}

// release frees tc's slot when its goroutine is done with it.
func (t *tcpTable) release(tc *tcpConn) {
	t.mu.Lock()
	t.unlink(tc)
	t.free(tc)
	t.mu.Unlock()
}

// idle marks tc as waiting for its next query, and returns how long it may
// wait: tcp_idle_timeout, or busy_idle_timeout under pressure, and whether
// that is the shorter one.
func (t *tcpTable) idle(tc *tcpConn, idle time.Duration, lim config.TCP, now time.Time) (time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tc.gone {
		return 0, false // reclaimed before its goroutine got here
	}
	if tc.idleSince.IsZero() { // else idle since it was admitted
		t.setIdle(tc, now)
	}
	if t.pressure(lim) && lim.BusyIdleTimeout < idle {
		return lim.BusyIdleTimeout, true
	}
	return idle, false
}

// busy marks tc as reading or answering a query; false when it was
// reclaimed meanwhile.
func (t *tcpTable) busy(tc *tcpConn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.unlink(tc)
	return !tc.gone
}

// setIdle appends tc to the idle list. t.mu is held.
func (t *tcpTable) setIdle(tc *tcpConn, now time.Time) {
	tc.idleSince = now
	tc.prev, tc.next = t.tail, nil
	if t.tail != nil {
		t.tail.next = tc
	} else {
		t.head = tc
	}
	t.tail = tc
}

// unlink takes tc off the idle list if it is there. t.mu is held.
func (t *tcpTable) unlink(tc *tcpConn) {
	if tc.idleSince.IsZero() {
		return
	}
	if tc.prev != nil {
		tc.prev.next = tc.next
	} else {
		t.head = tc.next
	}
	if tc.next != nil {
		tc.next.prev = tc.prev
	} else {
		t.tail = tc.prev
	}
	tc.prev, tc.next, tc.idleSince = nil, nil, time.Time{}
}

// openConns returns the number of connections holding a slot.
func (t *tcpTable) openConns() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.open
}

func (s *Server) serveTCP(ln net.Listener, st *workerStats) {
	backoff := time.Duration(0)
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.ctx.Err() != nil {
				return
			}
			// Out of descriptors (EMFILE) or a connection reset before
			// it was accepted: wait a little and go on, as net/http does,
			// rather than stop serving TCP for good.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("tcp accept; retrying", "err", err, "in", backoff)
			select {
			case <-time.After(backoff):
			case <-s.ctx.Done():
				return
			}
			continue
		}
		backoff = 0
		addr, _ := c.RemoteAddr().(*net.TCPAddr)
		client := tcpClient(addr.AddrPort().Addr())
		tc, why := s.guard.tcp.admit(c, client, s.snap.Load().cfg.Server.TCP, time.Now())
		if tc == nil {
			s.debug("tcp connection refused", "client", client, "reason", tcpRefusedNames[why])
			_ = c.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.guard.tcp.release(tc)
			s.serveConn(tc, &responder{srv: s, stats: st})
		}()
	}
}

// serveConn answers length-prefixed queries on one connection until the
// client closes it, it stays idle for the timeout, it is reclaimed for
// another client, or the server stops.
func (s *Server) serveConn(tc *tcpConn, r *responder) {
	c := tc.c
	defer func() { _ = c.Close() }()
	stop := context.AfterFunc(s.ctx, func() { _ = c.Close() })
	defer stop()
	br := bufio.NewReader(c)
	req := make([]byte, 0, 512)
	out := make([]byte, 0, 4096)
	msg := make([]byte, 0, 4098)
	var lenBuf [2]byte
	for {
		cfg := &s.snap.Load().cfg.Server
		if br.Buffered() < 2 {
			// No query waiting (pipelined ones are already buffered):
			// the connection is idle, and may be reclaimed.
			wait, short := s.guard.tcp.idle(tc, cfg.TCPIdleTimeout, cfg.TCP, time.Now())
			_ = c.SetReadDeadline(time.Now().Add(wait))
			if _, err := io.ReadFull(br, lenBuf[:1]); err != nil {
				var ne net.Error
				if short && errors.As(err, &ne) && ne.Timeout() {
					s.guard.tcp.reclaimed[tcpReclaimedBusy].Add(1)
				}
				return
			}
			if !s.guard.tcp.busy(tc) {
				return // reclaimed as it became readable
			}
		} else if _, err := io.ReadFull(br, lenBuf[:1]); err != nil {
			return
		}
		_ = c.SetReadDeadline(time.Now().Add(cfg.TCP.IOTimeout))
		if _, err := io.ReadFull(br, lenBuf[1:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(lenBuf[:]))
		req = req[:0]
		if cap(req) < n {
			req = make([]byte, n)
		}
		req = req[:n]
		if _, err := io.ReadFull(br, req); err != nil {
			return
		}
		addr, _ := c.RemoteAddr().(*net.TCPAddr)
		out = r.answer(s.snap.Load(), req, addr.AddrPort(), true, out[:0])
		if out == nil {
			return
		}
		msg = binary.BigEndian.AppendUint16(msg[:0], uint16(len(out)))
		msg = append(msg, out...)
		_ = c.SetWriteDeadline(time.Now().Add(cfg.TCP.IOTimeout))
		if _, err := c.Write(msg); err != nil {
			return
		}
	}
}
