package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/bits"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// Options configure one load run.
type Options struct {
	Server   netip.AddrPort // must be a loopback address
	Pool     *Pool
	Duration time.Duration // how long to send; the run then waits at most Timeout for replies
	Window   int           // queries in flight (rounded up to a power of two, ≤ 32768)
	Batch    int           // messages per sendmmsg/recvmmsg (default 64)
	Timeout  time.Duration // a query unanswered this long is lost (default 1 s)
	Rate     int           // queries per second; 0 = as fast as the window allows
	// CheckEvery checks every n-th response against Checker (0 = none).
	CheckEvery int
	Checker    *Checker
	// Interval is the width of the time series buckets (default 100 ms).
	Interval time.Duration
	// Reload, when set, replaces the map during the run (see ReloadPlan).
	Reload *ReloadPlan
	// ServerPID, when set, is the server's process: its CPU time during the
	// sending phase is reported (Linux /proc).
	ServerPID int
	// Logf, when set, receives the first few check failures.
	Logf func(format string, args ...any)
}

// Latency summarises a latency distribution in milliseconds.
type Latency struct {
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p999_ms"`
	Max  float64 `json:"max_ms"`
}

// Point is one bucket of the time series (by send time).
type Point struct {
	T        float64 `json:"t_s"` // bucket start, seconds since the run began
	Sent     uint64  `json:"sent"`
	Received uint64  `json:"received"`
	Lost     uint64  `json:"lost"`
	P99      float64 `json:"p99_ms"`
}

// Result is what a run measured.
type Result struct {
	Server      string  `json:"server"`
	Window      int     `json:"window"`
	Batch       int     `json:"batch"`
	Rate        int     `json:"rate"`
	Seconds     float64 `json:"seconds"` // length of the sending phase
	Sent        uint64  `json:"sent"`
	Received    uint64  `json:"received"`
	Lost        uint64  `json:"lost"`         // no reply within the timeout
	Late        uint64  `json:"late"`         // replies after their query was counted lost, or unknown IDs
	Rcode       uint64  `json:"rcode_errors"` // replies with an rcode other than NOERROR, or not a response
	QPS         float64 `json:"qps"`          // received per second of the sending phase
	Latency     Latency `json:"latency"`
	Checked     uint64  `json:"checked"`
	WrongAnswer uint64  `json:"wrong_answer"`
	WrongScope  uint64  `json:"wrong_scope"`
	Malformed   uint64  `json:"malformed"`
	// Server CPU time used during the sending phase, and as a share of one
	// core; -1 when no ServerPID was given.
	ServerCPUSeconds float64       `json:"server_cpu_s"`
	ServerCPUPercent float64       `json:"server_cpu_pct"`
	Reload           *ReloadResult `json:"reload,omitempty"`
	Series           []Point       `json:"series,omitempty"`
}

type bucket struct {
	sent, received, lost uint64
	h                    hist
}

// Run sends queries from o.Pool to o.Server over one connected UDP socket,
// sendmmsg/recvmmsg batches of o.Batch, keeping o.Window queries in flight.
// The DNS ID of a query is its slot index in the window plus a generation
// counter in the spare high bits, so a reply that arrives after its query
// was declared lost is recognised as late instead of being matched to the
// slot's next query. Latency is measured per slot from the timestamp taken
// just before the batch was sent to the one taken just after the batch that
// carried the reply was read.
//
// Run stops by itself: after o.Duration it sends nothing more and waits at
// most o.Timeout for the queries still in flight. ctx cancels it early.
func Run(ctx context.Context, o Options) (*Result, error) {
	if !o.Server.Addr().IsLoopback() {
		return nil, fmt.Errorf("load target %v: only loopback servers are allowed", o.Server)
	}
	if o.Pool == nil || o.Pool.Len() == 0 {
		return nil, errors.New("no queries")
	}
	if o.Window <= 0 {
		o.Window = 256
	}
	if o.Window > 1<<15 {
		o.Window = 1 << 15
	}
	slotBits := bits.Len(uint(o.Window - 1))
	W := 1 << slotBits
	o.Window = W
	if o.Batch <= 0 {
		o.Batch = 64
	}
	if o.Batch > W {
		o.Batch = W
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	if o.Interval <= 0 {
		o.Interval = 100 * time.Millisecond
	}
	slotMask := uint16(W - 1)
	genShift := uint(slotBits)

	uc, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(o.Server))
	if err != nil {
		return nil, fmt.Errorf("dialing %v: %w", o.Server, err)
	}
	defer func() { _ = uc.Close() }() // UDP: nothing is buffered that a failed close could lose
	setBuffers(uc, 8<<20)
	pc := ipv4.NewPacketConn(uc)

	res := &Result{Server: o.Server.String(), Window: W, Batch: o.Batch, Rate: o.Rate}

	sentAt := make([]int64, W) // 0 = free
	qidx := make([]int32, W)
	gen := make([]uint16, W)
	free := make([]int32, 0, W)
	for i := W - 1; i >= 0; i-- {
		free = append(free, int32(i))
	}
	sendMsgs := make([]ipv4.Message, o.Batch)
	for i := range sendMsgs {
		sendMsgs[i].Buffers = [][]byte{nil}
	}
	recvMsgs := make([]ipv4.Message, o.Batch)
	for i := range recvMsgs {
		recvMsgs[i].Buffers = [][]byte{make([]byte, 2048)}
	}

	var total hist
	var buckets []*bucket
	base := time.Now()
	now := func() int64 { return int64(time.Since(base)) + 1 } // never 0: 0 marks a free slot
	bucketOf := func(t int64) *bucket {
		i := int(t / int64(o.Interval))
		for len(buckets) <= i {
			buckets = append(buckets, new(bucket))
		}
		return buckets[i]
	}

	var rl *reloader
	if o.Reload != nil {
		rl, err = startReload(ctx, o, base)
		if err != nil {
			return nil, err
		}
		defer rl.stop()
	}

	res.ServerCPUSeconds, res.ServerCPUPercent = -1, -1
	cpu0, cpuErr := ProcCPU(o.ServerPID)
	var cpu1 time.Duration

	endSend := int64(o.Duration)
	tick := 10 * time.Millisecond
	if o.Rate > 0 {
		tick = time.Millisecond
	}
	nextTick := int64(0)
	next := 0 // next query of the pool
	nq := o.Pool.Len()
	inflight := 0
	var failLogged int
	sending := true

	for {
		t := now()
		if sending && (t >= endSend || ctx.Err() != nil || (rl != nil && rl.settled(t))) {
			sending = false
			if rl != nil {
				rl.setEnd(t)
			}
			res.Seconds = float64(t) / 1e9
			if cpuErr == nil {
				cpu1, cpuErr = ProcCPU(o.ServerPID)
			}
		}
		if !sending && (inflight == 0 || t >= endSend+int64(o.Timeout) || ctx.Err() != nil) {
			break
		}
		if sending && len(free) > 0 {
			n := len(free)
			if o.Rate > 0 {
				allowed := int64(float64(o.Rate)*float64(t)/1e9) - int64(res.Sent)
				n = int(min(int64(n), max(allowed, 0)))
			}
			for n > 0 {
				k := min(n, o.Batch)
				for i := 0; i < k; i++ {
					s := free[len(free)-1-i]
					q := o.Pool.Query(next)
					id := uint16(s) | gen[s]<<genShift
					q[0], q[1] = byte(id>>8), byte(id)
					sendMsgs[i].Buffers[0] = q
					qidx[s] = int32(next)
					next++
					if next == nq {
						next = 0
					}
				}
				ts := now()
				w, err := writeAll(pc, sendMsgs[:k])
				for i := 0; i < w; i++ {
					s := free[len(free)-1]
					free = free[:len(free)-1]
					sentAt[s] = ts
				}
				inflight += w
				res.Sent += uint64(w)
				bucketOf(ts).sent += uint64(w)
				if err != nil {
					return nil, fmt.Errorf("sending to %v: %w", o.Server, err)
				}
				n -= k
			}
		}
		if t >= nextTick {
			// Expire lost queries, then arm the next wake-up.
			for s := range W {
				if st := sentAt[s]; st != 0 && t-st > int64(o.Timeout) {
					sentAt[s] = 0
					gen[s]++
					free = append(free, int32(s))
					inflight--
					res.Lost++
					bucketOf(st).lost++
				}
			}
			nextTick = t + int64(tick)
			// Without the deadline ReadBatch could block for good and the
			// run would not stop by itself.
			if err := uc.SetReadDeadline(base.Add(time.Duration(nextTick))); err != nil {
				return nil, fmt.Errorf("reading from %v: %w", o.Server, err)
			}
		}
		nr, err := pc.ReadBatch(recvMsgs, 0)
		if err != nil {
			if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
				continue
			}
			if errors.Is(err, unix.ECONNREFUSED) {
				// ICMP port unreachable: the server is not (yet) there.
				continue
			}
			return nil, fmt.Errorf("reading from %v: %w", o.Server, err)
		}
		tr := now()
		for i := 0; i < nr; i++ {
			b := recvMsgs[i].Buffers[0][:recvMsgs[i].N]
			if len(b) < 12 {
				res.Late++
				continue
			}
			id := uint16(b[0])<<8 | uint16(b[1])
			s := id & slotMask
			st := sentAt[s]
			if st == 0 || id>>genShift != gen[s]&(0xffff>>genShift) {
				res.Late++
				continue
			}
			if b[2]&0x80 == 0 || b[3]&0x0f != 0 {
				res.Rcode++
			}
			lat := tr - st
			total.record(lat)
			bk := bucketOf(st)
			bk.received++
			bk.h.record(lat)
			res.Received++
			if o.CheckEvery > 0 && res.Received%uint64(o.CheckEvery) == 0 {
				v, why := checkReply(o, rl, b, o.Pool.Prefix(int(qidx[s])), st, tr)
				res.Checked++
				switch v {
				case WrongAnswer:
					res.WrongAnswer++
				case WrongScope:
					res.WrongScope++
				case Malformed:
					res.Malformed++
				}
				if v != OK && o.Logf != nil && failLogged < 5 {
					failLogged++
					o.Logf("check failed: %s", why)
				}
			}
			sentAt[s] = 0
			gen[s]++
			free = append(free, int32(s))
			inflight--
		}
	}
	// Whatever is still in flight after the drain is lost.
	for s := range W {
		if st := sentAt[s]; st != 0 {
			res.Lost++
			bucketOf(st).lost++
		}
	}
	if res.Seconds == 0 {
		res.Seconds = float64(now()) / 1e9
	}
	if res.Seconds > 0 {
		res.QPS = float64(res.Received) / res.Seconds
	}
	if o.ServerPID > 0 && cpuErr == nil && res.Seconds > 0 {
		res.ServerCPUSeconds = (cpu1 - cpu0).Seconds()
		res.ServerCPUPercent = 100 * res.ServerCPUSeconds / res.Seconds
	}
	res.Latency = latencyOf(&total)
	for i, b := range buckets {
		res.Series = append(res.Series, Point{
			T: (time.Duration(i) * o.Interval).Seconds(), Sent: b.sent, Received: b.received, Lost: b.lost,
			P99: ms(b.h.quantile(0.99)),
		})
	}
	if rl != nil {
		res.Reload = rl.result(buckets, o.Interval)
	}
	return res, nil
}

func checkReply(o Options, rl *reloader, b []byte, p netip.Prefix, sentAt, recvAt int64) (Verdict, string) {
	if rl == nil {
		return o.Checker.Check(b, p)
	}
	return rl.check(b, p, sentAt, recvAt)
}

// writeAll sends every message, looping over partial sendmmsg writes.
func writeAll(pc *ipv4.PacketConn, ms []ipv4.Message) (int, error) {
	done := 0
	for done < len(ms) {
		n, err := pc.WriteBatch(ms[done:], 0)
		done += n
		if err != nil {
			if errors.Is(err, unix.ECONNREFUSED) || errors.Is(err, unix.ENOBUFS) {
				// A late ICMP error from an earlier send, or a full queue:
				// the datagram counts as sent and, unanswered, as lost.
				done++
				continue
			}
			return done, err
		}
	}
	return done, nil
}

// setBuffers raises the socket buffers so a full window of replies fits
// even while the generator is descheduled: with SO_RCVBUFFORCE as root,
// otherwise up to net.core.rmem_max. It is best effort: a buffer the kernel
// refuses to raise stays smaller, and an overflow then shows up as lost
// queries, so every error here is ignored.
func setBuffers(uc *net.UDPConn, size int) {
	_ = uc.SetReadBuffer(size)
	_ = uc.SetWriteBuffer(size)
	if os.Geteuid() != 0 {
		return
	}
	if rc, err := uc.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size)
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, size)
		})
	}
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func latencyOf(h *hist) Latency {
	return Latency{
		P50: ms(h.quantile(0.50)), P90: ms(h.quantile(0.90)), P99: ms(h.quantile(0.99)),
		P999: ms(h.quantile(0.999)), Max: ms(h.quantile(1)),
	}
}

// ProcCPU returns the user+system CPU time of process pid (all threads)
// from /proc/PID/stat; pid 0 returns 0.
func ProcCPU(pid int) (time.Duration, error) {
	if pid <= 0 {
		return 0, nil
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields resume after ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("parsing /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("parsing /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64) // field 14 utime
	st, err2 := strconv.ParseUint(f[12], 10, 64) // field 15 stime
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parsing /proc/%d/stat", pid)
	}
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / clkTck, nil
}
