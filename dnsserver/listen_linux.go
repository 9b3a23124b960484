//go:build linux && !steerportable

package dnsserver

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

// listenConfig binds the DNS sockets with SO_REUSEPORT, so that one UDP
// socket per core shares the port (the kernel spreads the queries over
// them). The same option would let a second server join the group: see
// claimPort.
var listenConfig = net.ListenConfig{
	Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			if serr == nil {
				// Room for bursts (and for a reload's pause) without drops.
				_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
				_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
			}
		})
		if err != nil {
			return err
		}
		return serr
	},
}

// listenUDP binds n SO_REUSEPORT sockets on ap; port 0 picks one port for all.
func (s *Server) listenUDP(ap netip.AddrPort, n int) (uint16, error) {
	port := ap.Port()
	for i := range n {
		pc, err := listenConfig.ListenPacket(s.ctx, "udp", netip.AddrPortFrom(ap.Addr(), port).String())
		if err != nil {
			return 0, fmt.Errorf("listening on udp %s (socket %d): %w", ap, i, inUse(err))
		}
		c := pc.(*net.UDPConn)
		if port == 0 {
			port = c.LocalAddr().(*net.UDPAddr).AddrPort().Port()
		}
		s.udp = append(s.udp, c)
	}
	return port, nil
}

// openStop makes the eventfd the UDP loops wait on beside their sockets
// (they are out of Go's netpoller, so closing a socket does not wake them).
func (s *Server) openStop() error {
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return fmt.Errorf("eventfd: %w", err)
	}
	s.stopFD = fd
	return nil
}

// wakeStop makes the stop eventfd readable: every UDP loop wakes and sees
// s.stopping.
func (s *Server) wakeStop() {
	if s.stopFD > 0 {
		_, _ = unix.Write(s.stopFD, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	}
}

// closeStop closes the stop eventfd once the loops are gone.
func (s *Server) closeStop() {
	if s.stopFD > 0 {
		_ = unix.Close(s.stopFD)
		s.stopFD = 0
	}
}
