//go:build !linux

package tcpinfo

import "net"

func read(*net.TCPConn, *Info) error { return ErrUnsupported }
