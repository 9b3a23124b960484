package popmap

import (
	"encoding/binary"
	"net/netip"
)

// u128 is an address as an unsigned 128-bit number; IPv4 uses the low 32 bits.
type u128 struct{ hi, lo uint64 }

func u128From16(b [16]byte) u128 {
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

func (a u128) cmp(b u128) int {
	switch {
	case a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo):
		return -1
	case a == b:
		return 0
	}
	return 1
}

func (a u128) less(b u128) bool   { return a.cmp(b) < 0 }
func (a u128) lessEq(b u128) bool { return a.cmp(b) <= 0 }
func (a u128) or(b u128) u128     { return u128{a.hi | b.hi, a.lo | b.lo} }

// add1 returns a+1 and whether it overflowed 128 bits.
func (a u128) add1() (u128, bool) {
	lo := a.lo + 1
	hi := a.hi
	if lo == 0 {
		hi++
		if hi == 0 {
			return u128{}, true
		}
	}
	return u128{hi, lo}, false
}

func (a u128) sub1() u128 {
	if a.lo == 0 {
		return u128{a.hi - 1, ^uint64(0)}
	}
	return u128{a.hi, a.lo - 1}
}

// hostMask is the mask of the host bits of a /n in a width-bit space.
func hostMask(n, width int) u128 {
	h := width - n // host bits
	switch {
	case h <= 0:
		return u128{}
	case h >= 128:
		return u128{^uint64(0), ^uint64(0)}
	case h >= 64:
		return u128{^uint64(0) >> (128 - h), ^uint64(0)}
	}
	return u128{0, ^uint64(0) >> (64 - h)}
}

// addr converts a to an address of the given family width.
func (a u128) addr(width int) netip.Addr {
	if width == 32 {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(a.lo))
		return netip.AddrFrom4(b)
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], a.hi)
	binary.BigEndian.PutUint64(b[8:], a.lo)
	return netip.AddrFrom16(b)
}

func prefixOf(start u128, bits, width int) netip.Prefix {
	return netip.PrefixFrom(start.addr(width), bits)
}
