package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/steer-gslb/steer/popmap"
)

// A network key is a client subnet packed into one UBIGINT column, the group
// key of the map builder:
//
//	bit 63      family: 0 IPv4, 1 IPv6
//	bits 62..7  IPv4: the 32 address bits in bits 38..7 (62..39 zero);
//	            IPv6: the top 56 address bits
//	bits 6..0   prefix length (IPv4 0..24, IPv6 0..56)
//
// Keys sort by family, then address, then length, so a range scan over a
// family's keys walks its address space in order. Only prefixes no finer
// than /24 or /56 have a key: a full client address cannot be represented.
const (
	keyV6      = 1 << 63
	keyBitsLen = 7
	keyLenMask = 1<<keyBitsLen - 1
)

// ErrFinePrefix is wrapped by the errors of NetworkKey (and so of AddBeacons
// and AddQueries) for a prefix finer than /24 (IPv4) or /56 (IPv6).
var ErrFinePrefix = errors.New("finer than /24 (IPv4) or /56 (IPv6): client subnets must be truncated before they are stored")

// NetworkKey returns the key of a client subnet (see the package doc). The
// prefix must be valid, have no host bits set and be no finer than /24
// (IPv4) or /56 (IPv6); a v4-mapped IPv6 prefix is its IPv4 prefix. Errors
// never contain the address: the prefix may be a full client address that
// must not end up in a log.
func NetworkKey(p netip.Prefix) (uint64, error) {
	if !p.IsValid() {
		return 0, errors.New("no client subnet")
	}
	a, bits := p.Addr(), p.Bits()
	if a.Is4In6() {
		if bits < 96 {
			return 0, errors.New("v4-mapped prefix shorter than /96")
		}
		a, bits = a.Unmap(), bits-96
	}
	if a.Zone() != "" {
		return 0, errors.New("prefix with a zone")
	}
	if a.Is4() {
		if bits > popmap.MaxSource4 {
			return 0, fmt.Errorf("an IPv4 /%d is %w", bits, ErrFinePrefix)
		}
		if netip.PrefixFrom(a, bits).Masked().Addr() != a {
			return 0, fmt.Errorf("IPv4 /%d with host bits set", bits)
		}
		v4 := a.As4()
		return uint64(binary.BigEndian.Uint32(v4[:]))<<keyBitsLen | uint64(bits), nil
	}
	if bits > popmap.MaxSource6 {
		return 0, fmt.Errorf("an IPv6 /%d is %w", bits, ErrFinePrefix)
	}
	if netip.PrefixFrom(a, bits).Masked().Addr() != a {
		return 0, fmt.Errorf("IPv6 /%d with host bits set", bits)
	}
	v6 := a.As16()
	hi := binary.BigEndian.Uint64(v6[:8])
	return keyV6 | hi>>8<<keyBitsLen | uint64(bits), nil
}

// NetworkPrefix is the inverse of NetworkKey. A key that NetworkKey cannot
// return gives the zero Prefix.
func NetworkPrefix(k uint64) netip.Prefix {
	bits := int(k & keyLenMask)
	if k&keyV6 == 0 {
		if bits > popmap.MaxSource4 || k>>(32+keyBitsLen) != 0 {
			return netip.Prefix{}
		}
		var v4 [4]byte
		binary.BigEndian.PutUint32(v4[:], uint32(k>>keyBitsLen))
		p := netip.PrefixFrom(netip.AddrFrom4(v4), bits)
		if p.Masked() != p {
			return netip.Prefix{}
		}
		return p
	}
	if bits > popmap.MaxSource6 {
		return netip.Prefix{}
	}
	var v6 [16]byte
	binary.BigEndian.PutUint64(v6[:8], (k&^keyV6)>>keyBitsLen<<8)
	p := netip.PrefixFrom(netip.AddrFrom16(v6), bits)
	if p.Masked() != p {
		return netip.Prefix{}
	}
	return p
}

// Truncate masks p to at most /24 (IPv4) or /56 (IPv6), unmapping a
// v4-mapped prefix: what the collector and the bulk import do at the door.
// It reports whether p was finer (or had host bits set).
func Truncate(p netip.Prefix) (netip.Prefix, bool) {
	a, bits := p.Addr(), p.Bits()
	if a.Is4In6() {
		a, bits = a.Unmap(), max(bits-96, 0)
	}
	a = a.WithZone("")
	limit := popmap.MaxSource6
	if a.Is4() {
		limit = popmap.MaxSource4
	}
	t := netip.PrefixFrom(a, min(bits, limit)).Masked()
	return t, t != p
}
