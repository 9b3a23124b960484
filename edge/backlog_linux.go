package edge

import (
	"net"
	"syscall"
)

// shrinkBacklog sets the listen backlog of l to 0, so that the kernel
// stops queueing new connections (their SYNs are dropped, and refused
// once the listener closes) while the accept loop takes the ones
// already queued: closing a listener resets the connections still in
// its queue, which clients would see as a failed request.
func shrinkBacklog(l net.Listener) {
	for {
		switch v := l.(type) {
		case *limitListener:
			l = v.Listener
			continue
		case *net.TCPListener:
			rc, err := v.SyscallConn()
			if err != nil {
				return
			}
			_ = rc.Control(func(fd uintptr) { _ = syscall.Listen(int(fd), 0) })
		}
		return
	}
}
