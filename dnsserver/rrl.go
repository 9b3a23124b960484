package dnsserver

import (
	"crypto/rand"
	"encoding/binary"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/steer-gslb/steer/config"
)

// Response rate limiting (server.rrl), as in BIND, Knot and NSD: a
// spoofed-source flood must not turn the server into a reflector, so the
// UDP responses to each client prefix (/24, /56 by default) are held to a
// rate per response category. A response over the rate is dropped, except
// every slip-th, which is sent truncated (TC, question only): a real
// resolver whose address was spoofed then retries over TCP, which a spoofer
// cannot complete and which is never limited. Clients in the exempt list and
// queries carrying a valid server cookie (the source is proven, RFC 7873
// §5.2.3) are not limited.
//
// The limiter sits on the answer path, so it allocates nothing and its
// memory is fixed: a table of buckets (a power of two) in pairs, each pair
// guarded by one of a few padded mutexes. A client's key (a seeded hash of
// its prefix and the category) picks a pair; a key found in neither slot
// takes the one whose bucket refilled first, which is the client idle
// longest, so a flood from many sources recycles buckets instead of growing
// a map. Each bucket is a GCRA cell (a token bucket kept as one "theoretical
// arrival time"), refilled lazily at the next lookup.

// RRL response categories, and what was done to a limited response.
const (
	rrlAnswer = iota // a response with records in the answer section
	rrlError         // anything else: NXDOMAIN, NODATA, REFUSED, FORMERR…
	numRRLCategories

	rrlDropped = 0
	rrlSlipped = 1
)

var (
	rrlCategoryNames = [numRRLCategories]string{"answer", "error"}
	rrlActionNames   = [2]string{"dropped", "slipped"}
)

type rrlAction uint8

const (
	rrlPass rrlAction = iota
	rrlDrop
	rrlSlip
)

const rrlShards = 64 // mutexes over the table's pairs

type rrlSlot struct {
	key   uint64 // 0 = empty
	tat   int64  // theoretical arrival time (monoNow), GCRA
	drops uint32 // limited responses since the key took the slot, for slip
}

type paddedMutex struct {
	sync.Mutex
	_ [64 - 8]byte // one cache line each: the loops of several cores share them
}

// rrl is one configuration's limiter. It is safe for concurrent use.
type rrl struct {
	cfg      config.RRL
	interval [numRRLCategories]int64 // ns per response; 0 = not limited
	tau      [numRRLCategories]int64 // burst tolerance: window − interval
	slip     uint32
	mask4    [2]uint64 // client prefix masks of the address words
	mask6    [2]uint64
	exempt   prefixSet
	k0, k1   uint64 // hash seed
	mask     uint64 // len(slots) − 1
	slots    []rrlSlot
	locks    [rrlShards]paddedMutex
}

// newRRL returns the limiter for cfg, or nil when RRL is off.
func newRRL(cfg config.RRL) *rrl {
	if !cfg.On() {
		return nil
	}
	n := 1 << 10
	for n < cfg.TableSize {
		n <<= 1
	}
	l := &rrl{
		cfg: cfg, slip: uint32(max(cfg.Slip, 0)), mask: uint64(n - 1), slots: make([]rrlSlot, n),
		mask4: wordMask(96 + cfg.IPv4Prefix), mask6: wordMask(cfg.IPv6Prefix), exempt: newPrefixSet(cfg.Exempt),
	}
	for c, rate := range [numRRLCategories]int{cfg.ResponsesPerSecond, cfg.ErrorsPerSecond} {
		if rate > 0 {
			l.interval[c] = int64(time.Second) / int64(rate)
			l.tau[c] = int64(max(cfg.Window, time.Second)) - l.interval[c]
		}
	}
	var seed [16]byte
	_, _ = rand.Read(seed[:]) // never fails (crypto/rand panics instead)
	l.k0, l.k1 = binary.LittleEndian.Uint64(seed[:]), binary.LittleEndian.Uint64(seed[8:])
	return l
}

// check takes one response of category cat for client a at time now.
func (l *rrl) check(a netip.Addr, cat int, now int64) rrlAction {
	iv := l.interval[cat]
	if iv == 0 || l.exempt.contains(a) {
		return rrlPass
	}
	key := l.key(a, cat)
	pair := key & l.mask &^ 1
	mu := &l.locks[(pair>>1)%rrlShards]
	mu.Lock()
	x, y := &l.slots[pair], &l.slots[pair|1]
	var s *rrlSlot
	switch key {
	case x.key:
		s = x
	case y.key:
		s = y
	default:
		s = x
		if y.tat < x.tat {
			s = y
		}
		*s = rrlSlot{key: key}
	}
	act := rrlPass
	if tat := max(s.tat, now); tat-now <= l.tau[cat] {
		s.tat = tat + iv
	} else {
		s.drops++
		act = rrlDrop
		if l.slip > 0 && s.drops%l.slip == 0 {
			act = rrlSlip
		}
	}
	mu.Unlock()
	return act
}

// key hashes a's prefix and the category; never 0.
func (l *rrl) key(a netip.Addr, cat int) uint64 {
	hi, lo := words(a)
	m, fam := l.mask6, uint64(6)
	if a.Is4() || a.Is4In6() {
		m, fam = l.mask4, 4
	}
	h := fmix64(hi&m[0] ^ l.k0)
	h = fmix64(h ^ lo&m[1] ^ (fam<<8 | uint64(cat)) ^ l.k1)
	return h | 1
}

// words returns a's 128 bits (IPv4 as IPv4-mapped IPv6) as two words.
func words(a netip.Addr) (hi, lo uint64) {
	b := a.As16()
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
}

// wordMask is the mask of a bits-long prefix over the two words.
func wordMask(bits int) [2]uint64 {
	switch {
	case bits <= 0:
		return [2]uint64{}
	case bits <= 64:
		return [2]uint64{^uint64(0) << (64 - bits), 0}
	case bits < 128:
		return [2]uint64{^uint64(0), ^uint64(0) << (128 - bits)}
	}
	return [2]uint64{^uint64(0), ^uint64(0)}
}

// fmix64 is MurmurHash3's 64-bit finalizer.
func fmix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// category is the RRL category of a response.
func category(resp []byte) int {
	if len(resp) < headerLen || resp[3]&0x0f != 0 || resp[6]|resp[7] == 0 {
		return rrlError
	}
	return rrlAnswer
}

// truncateResponse turns a response into its truncated form in place: TC
// set, the question kept, no records (not even the OPT).
func truncateResponse(b []byte) []byte {
	if len(b) < headerLen {
		return b
	}
	end, qd := headerLen, byte(0)
	if binary.BigEndian.Uint16(b[4:]) == 1 {
		if n, err := skipName(b, headerLen); err == nil && n+4 <= len(b) {
			end, qd = n+4, 1
		}
	}
	b[2] |= 0x02 // TC
	b[4], b[5] = 0, qd
	clear(b[6:headerLen])
	return b[:end]
}

// monoNow is the limiter's clock: nanoseconds on the monotonic clock.
func monoNow() int64 { return int64(time.Since(monoEpoch)) }

var monoEpoch = time.Now()

// prefixSet answers "is this address in one of these prefixes" without
// allocating: the prefixes are merged into sorted, disjoint address ranges,
// searched by bisection. IPv4 is kept IPv4-mapped but apart from IPv6, so
// that ::/0 does not cover it.
type prefixSet struct {
	v4, v6 []addrRange
}

// u128 is an address as two words (words).
type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo) }

type addrRange struct{ first, last u128 }

func newPrefixSet(ps []netip.Prefix) prefixSet {
	var s prefixSet
	for _, p := range ps {
		bits, list := p.Bits(), &s.v6
		if p.Addr().Is4() {
			bits, list = bits+96, &s.v4
		}
		hi, lo := words(p.Addr())
		m := wordMask(bits)
		first := u128{hi & m[0], lo & m[1]}
		*list = append(*list, addrRange{first, u128{first.hi | ^m[0], first.lo | ^m[1]}})
	}
	for _, list := range []*[]addrRange{&s.v4, &s.v6} {
		slices.SortFunc(*list, func(a, b addrRange) int {
			if a.first.less(b.first) {
				return -1
			}
			if b.first.less(a.first) {
				return 1
			}
			return 0
		})
		// Merge nested and overlapping ranges (prefixes never overlap
		// partially, but one may hold others).
		var out []addrRange
		for _, r := range *list {
			if n := len(out); n > 0 && !out[n-1].last.less(r.first) {
				if out[n-1].last.less(r.last) {
					out[n-1].last = r.last
				}
				continue
			}
			out = append(out, r)
		}
		*list = out
	}
	return s
}

func (s *prefixSet) contains(a netip.Addr) bool {
	list := s.v6
	if a.Is4() || a.Is4In6() {
		list = s.v4
	}
	if len(list) == 0 {
		return false
	}
	hi, lo := words(a)
	x := u128{hi, lo}
	// The last range that starts at or before x.
	i, j := 0, len(list)
	for i < j {
		h := int(uint(i+j) >> 1)
		if x.less(list[h].first) {
			j = h
		} else {
			i = h + 1
		}
	}
	return i > 0 && !list[i-1].last.less(x)
}

// rrlHolder gives the query loops the limiter of the config being served.
// A snapshot with a new config (a reload) is noticed by pointer; the
// limiter, and so its buckets, is kept when server.rrl did not change.
type rrlHolder struct {
	mu  sync.Mutex
	cur atomic.Pointer[rrlBinding]
}

type rrlBinding struct {
	cfg *config.Config
	lim *rrl // nil = off
}

// get returns the limiter for cfg (nil when RRL is off). It allocates only
// when cfg is new.
func (h *rrlHolder) get(cfg *config.Config) *rrl {
	if b := h.cur.Load(); b != nil && b.cfg == cfg {
		return b.lim
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	b := h.cur.Load()
	if b != nil && b.cfg == cfg {
		return b.lim
	}
	var lim *rrl
	switch {
	case b != nil && b.lim != nil && sameRRL(b.lim.cfg, cfg.Server.RRL):
		lim = b.lim
	default:
		lim = newRRL(cfg.Server.RRL)
	}
	h.cur.Store(&rrlBinding{cfg: cfg, lim: lim})
	return lim
}

func sameRRL(a, b config.RRL) bool {
	return a.ResponsesPerSecond == b.ResponsesPerSecond && a.ErrorsPerSecond == b.ErrorsPerSecond &&
		a.Window == b.Window && a.Slip == b.Slip && a.IPv4Prefix == b.IPv4Prefix && a.IPv6Prefix == b.IPv6Prefix &&
		a.TableSize == b.TableSize && slices.Equal(a.Exempt, b.Exempt)
}

// rateLimit applies the limiter lim (nil: off) to the UDP response resp
// to src of the query r just answered from snap, at time now (monoNow): it
// returns resp, resp cut down to a truncated reply (slip), or nil (drop),
// and counts what it did.
func (r *responder) rateLimit(lim *rrl, snap *snapshot, resp []byte, src netip.AddrPort, now int64) []byte {
	if lim == nil {
		return resp
	}
	cat := category(resp)
	act := lim.check(src.Addr(), cat, now)
	if act == rrlPass {
		return resp
	}
	if c := r.q.cookie; len(c) == 24 && snap.cookie.valid(c, src.Addr()) {
		return resp // a valid server cookie: the source is not spoofed
	}
	if act == rrlSlip {
		r.stats.rrl[cat][rrlSlipped].Add(1)
		return truncateResponse(resp)
	}
	r.stats.rrl[cat][rrlDropped].Add(1)
	return nil
}
