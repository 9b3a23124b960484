package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/miekg/dns"
)

// Target is one query a Watch waits on: the ECS source and the A addresses
// the server must answer it with.
type Target struct {
	ECS  netip.Prefix
	Want []netip.Addr
}

// WatchResult is what a Watch saw.
type WatchResult struct {
	// Done is when the reply that completed the last target was read (zero
	// when the watch ended first).
	Done   time.Time
	Rounds int // polling rounds sent
	Errors int // queries of those rounds unanswered within the round's timeout
}

// Watch polls server every `every` (one round: one query per target, all
// sent at once over one connected UDP socket, then their replies read for
// at most 200 ms) until each target has been answered with its wanted
// addresses at least once, and returns when that happened. A target, once
// seen answered as wanted, is not asked again: the server swaps answers
// atomically, so the last target's reply marks the change. Watch ends with
// an error when ctx does; it only queries loopback addresses.
func Watch(ctx context.Context, server netip.AddrPort, qname string, targets []Target, every time.Duration) (WatchResult, error) {
	var res WatchResult
	if !server.Addr().IsLoopback() {
		return res, fmt.Errorf("watch %v: only loopback servers are allowed", server)
	}
	if len(targets) == 0 {
		return res, errors.New("watch: no targets")
	}
	if len(targets) > 256 {
		return res, errors.New("watch: at most 256 targets")
	}
	wire := make([][]byte, len(targets))
	for i, t := range targets {
		b, err := BuildQuery(0, qname, dns.TypeA, t.ECS)
		if err != nil {
			return res, err
		}
		wire[i] = b
	}
	uc, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(server))
	if err != nil {
		return res, fmt.Errorf("watch: dialing %v: %w", server, err)
	}
	defer func() { _ = uc.Close() }() // UDP: nothing buffered to lose
	stop := context.AfterFunc(ctx, func() { _ = uc.SetReadDeadline(time.Now()) })
	defer stop()

	pending := make([]bool, len(targets))
	left := len(targets)
	for i := range pending {
		pending[i] = true
	}
	buf := make([]byte, 2048)
	tk := time.NewTicker(every)
	defer tk.Stop()
	// The ID is the round's number in the high byte and the target's index
	// in the low one, so a straggler from an earlier round is ignored.
	for round := uint16(1); ; round++ {
		res.Rounds++
		sent := 0
		for i, b := range wire {
			if !pending[i] {
				continue
			}
			id := round<<8 | uint16(i)
			b[0], b[1] = byte(id>>8), byte(id)
			if _, err := uc.Write(b); err != nil {
				if ctx.Err() != nil {
					return res, ctx.Err()
				}
				res.Errors++ // e.g. ECONNREFUSED: the server is restarting
				continue
			}
			sent++
		}
		if err := uc.SetReadDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
			return res, err
		}
		for sent > 0 {
			n, err := uc.Read(buf)
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			if err != nil {
				if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
					break
				}
				res.Errors++ // ECONNREFUSED from an earlier send; try the next round
				break
			}
			now := time.Now()
			if n < 12 || uint16(buf[0]) != round&0xff {
				continue
			}
			i := int(buf[1])
			if i >= len(targets) || !pending[i] {
				continue
			}
			sent--
			m := new(dns.Msg)
			if err := m.Unpack(buf[:n]); err != nil || m.Rcode != dns.RcodeSuccess {
				continue
			}
			if sameAddrs(AnswerAddrs(m), targets[i].Want) {
				pending[i] = false
				left--
				if left == 0 {
					res.Done = now
					return res, nil
				}
			}
		}
		res.Errors += sent
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-tk.C:
		}
	}
}

// Targets returns a target per ECS source: the answer c expects for it.
func (c *Checker) Targets(ecs []netip.Prefix) []Target {
	out := make([]Target, len(ecs))
	for i, p := range ecs {
		want, _ := c.Expect(p)
		out[i] = Target{ECS: p, Want: want}
	}
	return out
}
