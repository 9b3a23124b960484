package dnsserver

import (
	"crypto/rand"
	"encoding/binary"
	"math/bits"
	"net/netip"
	"time"
)

// cookieJar makes and checks DNS server cookies (RFC 7873) in the
// interoperable format of RFC 9018: version 1, three reserved bytes, a
// 32-bit timestamp and SipHash-2-4 over client cookie, those eight bytes and
// the client address, keyed with the server secret.
type cookieJar struct {
	k0, k1 uint64
	now    func() time.Time
}

func newCookieJar(secret []byte) *cookieJar {
	if len(secret) != 16 {
		secret = make([]byte, 16)
		_, _ = rand.Read(secret)
	}
	return &cookieJar{k0: binary.LittleEndian.Uint64(secret), k1: binary.LittleEndian.Uint64(secret[8:]), now: time.Now}
}

// with returns j, or a jar with a new configured secret if it changed. A
// random secret survives reloads so cookies stay valid.
func (j *cookieJar) with(secret []byte) *cookieJar {
	if len(secret) != 16 {
		return j
	}
	return newCookieJar(secret)
}

// appendServerCookie appends a fresh 16-byte server cookie for client
// cookie cc and client address ip.
func (j *cookieJar) appendServerCookie(dst, cc []byte, ip netip.Addr) []byte {
	var hdr [8]byte
	hdr[0] = 1 // version; three reserved bytes stay zero
	binary.BigEndian.PutUint32(hdr[4:], uint32(j.now().Unix()))
	return j.appendServerCookieAt(dst, cc, ip, hdr[:])
}

// valid reports whether cookie (client 8 bytes + server 16 bytes) is one we
// made for ip within the last half hour (and not more than 5 minutes ahead),
// young enough to be echoed rather than replaced.
func (j *cookieJar) valid(cookie []byte, ip netip.Addr) bool {
	if len(cookie) != 24 || cookie[8] != 1 {
		return false
	}
	ts := int64(binary.BigEndian.Uint32(cookie[12:]))
	now := j.now().Unix()
	if ts < now-1800 || ts > now+300 {
		return false
	}
	var buf [24]byte
	want := j.appendServerCookieAt(buf[:0], cookie[:8], ip, cookie[8:16])
	return string(want) == string(cookie[8:])
}

func (j *cookieJar) appendServerCookieAt(dst, cc []byte, ip netip.Addr, hdr []byte) []byte {
	var in [8 + 8 + 16]byte
	copy(in[:8], cc)
	copy(in[8:16], hdr)
	n := 16
	if ip.Is4() || ip.Is4In6() {
		a := ip.Unmap().As4()
		n += copy(in[16:], a[:])
	} else {
		a := ip.As16()
		n += copy(in[16:], a[:])
	}
	dst = append(dst, hdr...)
	return binary.LittleEndian.AppendUint64(dst, siphash24(j.k0, j.k1, in[:n]))
}

// siphash24 is SipHash-2-4 (Aumasson and Bernstein), as RFC 9018 requires.
func siphash24(k0, k1 uint64, m []byte) uint64 {
	v0 := k0 ^ 0x736f6d6570736575
	v1 := k1 ^ 0x646f72616e646f6d
	v2 := k0 ^ 0x6c7967656e657261
	v3 := k1 ^ 0x7465646279746573
	round := func() {
		v0 += v1
		v1 = bits.RotateLeft64(v1, 13)
		v1 ^= v0
		v0 = bits.RotateLeft64(v0, 32)
		v2 += v3
		v3 = bits.RotateLeft64(v3, 16)
		v3 ^= v2
		v0 += v3
		v3 = bits.RotateLeft64(v3, 21)
		v3 ^= v0
		v2 += v1
		v1 = bits.RotateLeft64(v1, 17)
		v1 ^= v2
		v2 = bits.RotateLeft64(v2, 32)
	}
	n := len(m)
	for len(m) >= 8 {
		w := binary.LittleEndian.Uint64(m)
		v3 ^= w
		round()
		round()
		v0 ^= w
		m = m[8:]
	}
	var last [8]byte
	copy(last[:], m)
	last[7] = byte(n)
	w := binary.LittleEndian.Uint64(last[:])
	v3 ^= w
	round()
	round()
	v0 ^= w
	v2 ^= 0xff
	round()
	round()
	round()
	round()
	return v0 ^ v1 ^ v2 ^ v3
}
