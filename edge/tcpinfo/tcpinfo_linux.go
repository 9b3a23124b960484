//go:build linux

package tcpinfo

import (
	"net"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// reader carries the state of one read through RawConn.Control without a
// closure allocation.
type reader struct {
	raw unix.TCPInfo
	err error
}

func (r *reader) control(fd uintptr) {
	n := uint32(unix.SizeofTCPInfo)
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.IPPROTO_TCP, unix.TCP_INFO,
		uintptr(unsafe.Pointer(&r.raw)), uintptr(unsafe.Pointer(&n)), 0)
	if e != 0 {
		r.err = e
	}
}

func read(tc *net.TCPConn, info *Info) error {
	rc, err := tc.SyscallConn()
	if err != nil {
		return err
	}
	var r reader
	if err := rc.Control(r.control); err != nil {
		return err
	}
	if r.err != nil {
		return r.err
	}
	t := &r.raw
	*info = Info{
		RTT:          time.Duration(t.Rtt) * time.Microsecond,
		RTTVar:       time.Duration(t.Rttvar) * time.Microsecond,
		MinRTT:       time.Duration(t.Min_rtt) * time.Microsecond,
		Retransmits:  uint32(t.Retransmits),
		TotalRetrans: t.Total_retrans,
		Cwnd:         t.Snd_cwnd,
		MSS:          t.Snd_mss,
		DeliveryRate: t.Delivery_rate,
		BytesAcked:   t.Bytes_acked,
		BytesRecv:    t.Bytes_received,
	}
	return nil
}
