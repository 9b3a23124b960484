//go:build linux && !steerportable

package dnsserver

import (
	"encoding/binary"
	"net"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// batch is how many datagrams one recvmmsg/sendmmsg moves at most.
const batch = 64

// mmsghdr is struct mmsghdr of recvmmsg(2); x/sys/unix has no type for it.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
	_   [4]byte
}

// udpLoop owns one socket's buffers; nothing in it is shared.
type udpLoop struct {
	rhdr  [batch]mmsghdr
	riov  [batch]unix.Iovec
	rname [batch][unix.SizeofSockaddrInet6]byte
	rbuf  [batch][]byte
	whdr  [batch]mmsghdr
	wiov  [batch]unix.Iovec
	wbuf  [batch][]byte

	n, sent, want int
	dropped       int
	errno         unix.Errno
}

// Query and answer buffers are slices of two slabs with a stride that is
// not a power of two: 64 buffers at a 4 KiB or 64 KiB stride all start in
// the same cache set and evict each other on every batch.
const (
	maxUDPQuery = 4096      // a larger datagram is truncated and dropped
	bufStride   = 4096 + 64 // one cache line of stagger per buffer
)

func newUDPLoop() *udpLoop {
	l := &udpLoop{}
	rslab := make([]byte, batch*bufStride)
	wslab := make([]byte, batch*bufStride)
	for i := range batch {
		l.rbuf[i] = rslab[i*bufStride : i*bufStride+maxUDPQuery : i*bufStride+maxUDPQuery]
		l.wbuf[i] = wslab[i*bufStride : i*bufStride : i*bufStride+4096]
		l.riov[i].Base = &l.rbuf[i][0]
		l.riov[i].SetLen(len(l.rbuf[i]))
		l.rhdr[i].hdr.Iov = &l.riov[i]
		l.rhdr[i].hdr.SetIovlen(1)
		l.rhdr[i].hdr.Name = &l.rname[i][0]
		l.whdr[i].hdr.Iov = &l.wiov[i]
		l.whdr[i].hdr.SetIovlen(1)
	}
	return l
}

// recv reads a batch without blocking; false with errno set when there is
// nothing (EAGAIN) or the read failed.
func (l *udpLoop) recv(fd uintptr) bool {
	for i := range batch {
		l.rhdr[i].hdr.Namelen = unix.SizeofSockaddrInet6
	}
	r, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&l.rhdr[0])), batch, unix.MSG_DONTWAIT, 0, 0)
	if e != 0 {
		l.n, l.errno = 0, e
		return false
	}
	l.n, l.errno = int(r), 0
	return true
}

// send writes whdr[sent:want] without blocking, counting what a full send
// buffer made it drop.
func (l *udpLoop) send(fd uintptr) {
	for l.sent < l.want {
		r, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&l.whdr[l.sent])), uintptr(l.want-l.sent), unix.MSG_DONTWAIT, 0, 0)
		switch {
		case e == unix.EINTR:
			continue
		case e == unix.EAGAIN:
			// The send buffer (4 MiB) is full: drop the rest, as a
			// full receive queue would.
			l.dropped += l.want - l.sent
			return
		case e != 0:
			// One bad destination must not stall the batch: skip it.
			l.sent++
			continue
		}
		l.sent += int(r)
	}
}

// serveUDP reads batches of queries, answers each from one snapshot, and
// writes the answers back in one sendmmsg.
//
// The socket is taken out of Go's netpoller (detach) and waited on with an
// epoll instance of the loop's own that asks for EPOLLIN only. The
// netpoller registers every socket for EPOLLOUT too, and a UDP socket
// signals "writable" each time a sent datagram is freed — on loopback, for
// every answer — which woke the netpoller's thread on the loop's own core
// for nothing: perf showed a third of the server's time in those wake-ups
// and the context switches they caused, where gdnsd spent 5 %.
func (s *Server) serveUDP(c *net.UDPConn, r *responder) {
	fd, err := detach(c)
	if err != nil {
		s.log.Error("udp socket", "err", err)
		return
	}
	defer func() { _ = unix.Close(fd) }()
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		s.log.Error("udp epoll", "err", err)
		return
	}
	defer func() { _ = unix.Close(ep) }()
	for _, w := range []int{fd, s.stopFD} {
		if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, w, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(w)}); err != nil {
			s.log.Error("udp epoll", "err", err)
			return
		}
	}
	var events [2]unix.EpollEvent
	l := newUDPLoop()
	for !s.stopping.Load() {
		l.n, l.errno = 0, 0
		if !l.recv(uintptr(fd)) {
			if l.errno != unix.EAGAIN && l.errno != unix.EINTR {
				s.log.Error("udp read", "err", l.errno)
				return
			}
			// Nothing queued: sleep until a query (or Close) arrives.
			// A raw syscall: the loop keeps its P while it sleeps. A
			// scheduler-aware one lets sysmon take the P away after 20 µs
			// and hand it around, a storm of thread wake-ups on a busy
			// core that slowed a concurrent reload several-fold. The
			// runtime can still stop this loop: its preemption signal
			// interrupts epoll_wait (EINTR).
			_, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(ep), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), ^uintptr(0), 0, 0)
			if e != 0 && e != unix.EINTR {
				s.log.Error("udp epoll wait", "err", e)
				return
			}
			continue
		}
		snap := s.snap.Load()
		lim := s.guard.rrl.get(snap.cfg)
		now := int64(0)
		if lim != nil {
			now = monoNow() // one clock read per batch
		}
		k := 0
		for i := range l.n {
			if l.rhdr[i].hdr.Flags&unix.MSG_TRUNC != 0 {
				r.stats.dropped.Add(1) // longer than any sane query
				continue
			}
			req := l.rbuf[i][:l.rhdr[i].n]
			src := sockaddrAddrPort(l.rname[i][:l.rhdr[i].hdr.Namelen])
			resp := r.answer(snap, req, src, false, l.wbuf[k][:0])
			if len(resp) == 0 {
				continue
			}
			if resp = r.rateLimit(lim, snap, resp, src, now); len(resp) == 0 {
				continue // rate limited (rrl.go)
			}
			if cap(resp) > cap(l.wbuf[k]) {
				l.wbuf[k] = resp[:0] // keep the larger buffer
			}
			l.wiov[k].Base = &resp[0]
			l.wiov[k].SetLen(len(resp))
			l.whdr[k].hdr.Name = &l.rname[i][0]
			l.whdr[k].hdr.Namelen = l.rhdr[i].hdr.Namelen
			k++
		}
		if k == 0 {
			continue
		}
		l.sent, l.want, l.dropped = 0, k, 0
		l.send(uintptr(fd))
		if l.dropped > 0 {
			r.stats.dropped.Add(uint64(l.dropped))
		}
	}
}

// detach returns a duplicate of c's descriptor and closes c, which takes
// the socket out of Go's netpoller (its Close deregisters the descriptor
// explicitly) while the duplicate keeps the socket, and its port, open.
func detach(c *net.UDPConn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	var derr error
	if err := rc.Control(func(f uintptr) { fd, derr = unix.FcntlInt(f, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, err
	}
	if derr != nil {
		return -1, derr
	}
	if err := c.Close(); err != nil {
		_ = unix.Close(fd)
		return -1, err
	}
	// O_NONBLOCK belongs to the open file, shared with the duplicate; set
	// it anyway so nothing here can block.
	if err := unix.SetNonblock(fd, true); err != nil {
		_ = unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// sockaddrAddrPort decodes a raw sockaddr_in or sockaddr_in6.
func sockaddrAddrPort(b []byte) netip.AddrPort {
	if len(b) < 2 {
		return netip.AddrPort{}
	}
	fam := *(*uint16)(unsafe.Pointer(&b[0])) // host byte order
	switch {
	case fam == unix.AF_INET && len(b) >= 8:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), binary.BigEndian.Uint16(b[2:]))
	case fam == unix.AF_INET6 && len(b) >= 24:
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[8:24])), binary.BigEndian.Uint16(b[2:]))
	}
	return netip.AddrPort{}
}
