// Package tcpinfo reads the kernel's view of a TCP connection (TCP_INFO):
// smoothed RTT and its variance, the minimum RTT, retransmissions, the
// congestion window and the delivery rate. The edge proxy reads it once per
// request from the client's connection and writes it to its access log: a
// latency signal from every real connection, not only from the clients that
// run a beacon.
//
// Read uses getsockopt(2) on the connection's own file descriptor through
// syscall.RawConn.Control (no dup, no cgo, no allocation). It is supported
// on Linux; elsewhere it returns ErrUnsupported.
package tcpinfo

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"
)

// ErrUnsupported is returned by Read on systems without TCP_INFO support
// here (all but Linux).
var ErrUnsupported = errors.New("tcpinfo: TCP_INFO is not supported on this system")

// ErrNotTCP is returned by Read for a connection that is not TCP (or a TLS
// connection over TCP).
var ErrNotTCP = errors.New("tcpinfo: not a TCP connection")

// Info is a snapshot of a TCP connection's state, as the kernel keeps it.
// Fields the running kernel does not report are zero (MinRTT and
// DeliveryRate need Linux 4.9 or newer).
type Info struct {
	RTT          time.Duration // smoothed round-trip time (srtt)
	RTTVar       time.Duration // its mean deviation
	MinRTT       time.Duration // the minimum RTT seen (windowed)
	Retransmits  uint32        // retransmissions of the current unacknowledged segment (a timeout counter)
	TotalRetrans uint32        // segments retransmitted over the connection's life
	Cwnd         uint32        // congestion window, in segments
	MSS          uint32        // sender's maximum segment size, bytes
	DeliveryRate uint64        // the most recent goodput sample, bytes/s
	BytesAcked   uint64        // bytes the peer acknowledged
	BytesRecv    uint64        // bytes received from the peer
}

// Read returns c's TCP_INFO. c is a *net.TCPConn, a *tls.Conn over one, or
// any connection with a NetConn() net.Conn method (unwrapped up to four
// levels). It does not allocate.
func Read(c net.Conn) (Info, error) {
	tc, err := tcpConn(c)
	if err != nil {
		return Info{}, err
	}
	var info Info
	if err := read(tc, &info); err != nil {
		return Info{}, fmt.Errorf("tcpinfo: %w", err)
	}
	return info, nil
}

// netConner is what *tls.Conn and other wrappers offer.
type netConner interface{ NetConn() net.Conn }

func tcpConn(c net.Conn) (*net.TCPConn, error) {
	for range 5 {
		switch v := c.(type) {
		case *net.TCPConn:
			return v, nil
		case *tls.Conn:
			c = v.NetConn()
		case netConner:
			c = v.NetConn()
		default:
			return nil, ErrNotTCP
		}
	}
	return nil, ErrNotTCP
}
