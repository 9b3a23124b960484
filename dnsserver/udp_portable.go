//go:build !linux || steerportable

package dnsserver

import (
	"errors"
	"net"
	"time"
)

// maxUDPQuery is the longest query read; a longer datagram is dropped.
const maxUDPQuery = 4096

// serveUDP is the portable query loop (macOS, the BSDs, Windows): one
// datagram per read and per write on a socket that several loops share.
// Linux has the batched loop of udp_linux.go.
func (s *Server) serveUDP(c *net.UDPConn, r *responder) {
	buf := make([]byte, maxUDPQuery+1)
	out := make([]byte, 0, 4096)
	fails := 0
	for {
		n, src, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.stopping.Load() {
				return
			}
			// An error queued on the socket (an ICMP port unreachable,
			// reported on Windows) concerns one datagram: go on, without
			// spinning should the error persist.
			fails++
			s.debug("udp read", "err", err)
			if fails > 100 {
				time.Sleep(10 * time.Millisecond)
			}
			continue
		}
		fails = 0
		if n > maxUDPQuery {
			r.stats.dropped.Add(1) // longer than any sane query
			continue
		}
		snap := s.snap.Load()
		resp := r.answer(snap, buf[:n], src, false, out[:0])
		if len(resp) == 0 {
			continue
		}
		if cap(resp) > cap(out) {
			out = resp[:0] // keep the larger buffer
		}
		if resp = r.rateLimit(s.guard.rrl.get(snap.cfg), snap, resp, src, monoNow()); len(resp) == 0 {
			continue
		}
		if _, err := c.WriteToUDPAddrPort(resp, src); err != nil && !errors.Is(err, net.ErrClosed) {
			r.stats.dropped.Add(1)
		}
	}
}
