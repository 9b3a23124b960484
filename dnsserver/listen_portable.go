//go:build !linux || steerportable

package dnsserver

import (
	"fmt"
	"net"
	"net/netip"
)

// listenConfig binds the DNS sockets without SO_REUSEPORT: outside Linux
// it does not spread one port's datagrams over several sockets (macOS and
// older FreeBSD hand them all to one), so there is one UDP socket per
// address, read by several loops; and a second server on the port is
// refused by the kernel itself.
var listenConfig net.ListenConfig

// listenUDP binds one socket on ap and lists it n times in s.udp, so that
// n loops read it concurrently.
func (s *Server) listenUDP(ap netip.AddrPort, n int) (uint16, error) {
	pc, err := listenConfig.ListenPacket(s.ctx, "udp", ap.String())
	if err != nil {
		return 0, fmt.Errorf("listening on udp %s: %w", ap, inUse(err))
	}
	c := pc.(*net.UDPConn)
	// Room for bursts (and for a reload's pause) without drops; the
	// system may cap it lower.
	_ = c.SetReadBuffer(4 << 20)
	_ = c.SetWriteBuffer(4 << 20)
	for range max(n, 1) {
		s.udp = append(s.udp, c)
	}
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Port(), nil
}

// The portable loops block in ReadFromUDPAddrPort, which closing the socket
// ends: there is no stop descriptor.
func (s *Server) openStop() error {
	s.stopFD = -1
	return nil
}

func (s *Server) wakeStop()  {}
func (s *Server) closeStop() {}

// claimPort has nothing to do here: without SO_REUSEPORT the kernel
// refuses a second server on the port (see inUse for the message).
func (s *Server) claimPort(int, netip.AddrPort) error { return nil }
