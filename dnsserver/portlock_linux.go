//go:build linux && !steerportable

package dnsserver

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Port ownership on Linux. Our sockets set SO_REUSEPORT so that one UDP
// socket per core shares the port, and the kernel lets any later socket of
// the same user that sets it too join the group: a second steer started on
// the same address by mistake would bind without an error and silently take
// its share of the queries, answered from another config. Two guards, taken
// before our sockets bind, make it refuse to start instead:
//
//  1. A lock named after the address: a listening unix socket in the
//     abstract namespace, "@steer-dns/127.0.0.1:53". It lives in the network
//     namespace, exactly as the port does, and the kernel drops it when the
//     process ends however it ends (kill -9 included): nothing goes stale,
//     and there is no run directory to agree on — a flock'd file would
//     depend on $XDG_RUNTIME_DIR or $TMPDIR, which differ between a shell
//     and a service manager. A second server fails to bind the name, and
//     connecting to it tells (SO_PEERCRED) which process holds it.
//  2. A probe: binding the address for UDP and TCP without SO_REUSEPORT
//     fails while anything holds the port — another DNS server, or a steer
//     without this lock — and is closed at once when it succeeds. The lock,
//     taken first, closes the window between the probes of two servers
//     started at the same moment.
//
// The alternatives were heavier for the same result: an eBPF or classic-BPF
// SO_ATTACH_REUSEPORT_CBPF program only steers within the group (it cannot
// keep a socket out of it), and binding without SO_REUSEPORT means one
// socket per port. Port 0 (ephemeral, the tests') needs no guard: the
// kernel never hands out a port in use.

// claimPort takes the lock of listen.dns[i] ap and probes it; the lock is
// held until Close.
func (s *Server) claimPort(i int, ap netip.AddrPort) error {
	if ap.Port() == 0 {
		return nil
	}
	name := "@steer-dns/" + ap.String()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: name, Net: "unix"})
	switch {
	case err == nil:
		s.guard.locks = append(s.guard.locks, ln)
		go func() {
			// Anyone asking who holds the lock only needs the connection.
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				_ = c.Close()
			}
		}()
	case errors.Is(err, syscall.EADDRINUSE):
		holder, same := lockHolder(name)
		if same {
			return fmt.Errorf("listen.dns[%d] %s: already served by another steer DNS server (%s); stop it first, or listen on another address", i, ap, holder)
		}
		// The name is held by a process of another user, who cannot join
		// our SO_REUSEPORT group anyway: the probe decides.
		s.log.Warn("port lock held by another user's process; relying on the bind probe", "listen", ap, "holder", holder)
	default:
		// No unix sockets (a sandbox): the probe alone guards the port.
		s.log.Warn("port lock unavailable; relying on the bind probe", "listen", ap, "err", err)
	}
	for _, network := range []string{"udp", "tcp"} {
		if err := probe(network, ap); err != nil {
			return fmt.Errorf("listen.dns[%d] %s %s: %w", i, network, ap, err)
		}
	}
	return nil
}

// probe binds ap without SO_REUSEPORT and closes it at once.
func probe(network string, ap netip.AddrPort) error {
	var c interface{ Close() error }
	var err error
	if network == "udp" {
		c, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(ap))
	} else {
		c, err = net.ListenTCP("tcp", net.TCPAddrFromAddrPort(ap))
	}
	if err != nil {
		return inUse(err)
	}
	return c.Close()
}

// lockHolder describes the process holding the lock name, and whether it
// runs as our user.
func lockHolder(name string) (string, bool) {
	d := net.Dialer{Timeout: time.Second}
	c, err := d.Dial("unix", name)
	if err != nil {
		return "holder unknown: " + err.Error(), true
	}
	defer func() { _ = c.Close() }()
	rc, err := c.(*net.UnixConn).SyscallConn()
	if err != nil {
		return "holder unknown", true
	}
	var cred *unix.Ucred
	var cerr error
	if err := rc.Control(func(fd uintptr) { cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) }); err != nil || cerr != nil {
		return "holder unknown", true
	}
	if cred.Pid == 0 { // in another PID namespace
		return "holder in another PID namespace", int(cred.Uid) == os.Getuid()
	}
	desc := "pid " + strconv.Itoa(int(cred.Pid))
	if comm, err := os.ReadFile("/proc/" + strconv.Itoa(int(cred.Pid)) + "/comm"); err == nil {
		desc += ", " + strings.TrimSpace(string(comm))
	}
	return desc, int(cred.Uid) == os.Getuid()
}
