package dnsserver

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"time"
)

// maxTCPConns bounds concurrent TCP connections; more wait in the backlog.
const maxTCPConns = 512

func (s *Server) serveTCP(ln net.Listener, st *workerStats) {
	sem := make(chan struct{}, maxTCPConns)
	for {
		c, err := ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Error("tcp accept", "err", err)
			}
			return
		}
		sem <- struct{}{}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-sem }()
			s.serveConn(c, &responder{srv: s, stats: st})
		}()
	}
}

// serveConn answers length-prefixed queries on one connection until the
// client closes it, it stays idle for the configured timeout, or the server
// stops.
func (s *Server) serveConn(c net.Conn, r *responder) {
	defer func() { _ = c.Close() }()
	stop := context.AfterFunc(s.ctx, func() { _ = c.Close() })
	defer stop()
	br := bufio.NewReader(c)
	req := make([]byte, 0, 512)
	out := make([]byte, 0, 4096)
	msg := make([]byte, 0, 4098)
	var lenBuf [2]byte
	for {
		idle := s.snap.Load().cfg.Server.TCPIdleTimeout
		_ = c.SetReadDeadline(time.Now().Add(idle))
		if _, err := io.ReadFull(br, lenBuf[:]); err != nil {
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
		_ = c.SetWriteDeadline(time.Now().Add(idle))
		if _, err := c.Write(msg); err != nil {
			return
		}
	}
}
