package steertoken

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"time"
)

// Version is the token format this package writes and reads.
const Version = 1

// Layout bounds.
const (
	maxKeyID   = 32
	maxLabel   = 63
	maxV4Bits  = 24
	maxV6Bits  = 56
	headerLen  = 3 // version, algorithm, key id length
	maxRaw     = headerLen + maxKeyID + 1 + maxLabel + 1 + maxV6Bits/8 + 8 + ed25519.SignatureSize
	maxEncoded = (maxRaw*8 + 5) / 6 // 239
)

// Claims is what a token says: the client network Network is steered to
// PoP until Expires.
type Claims struct {
	// KeyID is the id of the key that signed the token. Sign uses the key
	// set's signing key when it is empty.
	KeyID string
	// PoP is the PoP label the client is steered to.
	PoP string
	// Network is the client network: IPv4 at most /24, IPv6 at most /56.
	Network netip.Prefix
	// IssuedAt and Expires bound the token's validity, to the second.
	IssuedAt, Expires time.Time
}

// String formats c on one line.
func (c Claims) String() string {
	return fmt.Sprintf("pop=%s network=%s key=%s issued=%s expires=%s", c.PoP, c.Network, c.KeyID,
		c.IssuedAt.UTC().Format(time.RFC3339), c.Expires.UTC().Format(time.RFC3339))
}

// ClientNetwork is the network a token may name for a client address:
// addr's /24 (IPv4, also for an IPv4-mapped IPv6 address) or /56 (IPv6).
// It returns the zero Prefix for the zero Addr.
func ClientNetwork(addr netip.Addr) netip.Prefix {
	addr = addr.Unmap()
	bits := maxV6Bits
	if addr.Is4() {
		bits = maxV4Bits
	}
	p, _ := addr.WithZone("").Prefix(bits)
	return p
}

// Sign encodes and signs c with the key c.KeyID names, or the key set's
// signing key when c.KeyID is empty. It refuses claims it cannot encode:
// a PoP label or network the layout does not allow (a network longer than
// /24 or /56 among them: use [ClientNetwork]), times outside 1970..2106 or
// an expiry not after the issue time.
func Sign(ks *KeySet, c Claims) (string, error) {
	id := c.KeyID
	if id == "" {
		id = ks.signing
		if id == "" {
			return "", fmt.Errorf("steertoken: sign: the key set has no signing key")
		}
	}
	k := ks.keys[id]
	if k == nil {
		return "", fmt.Errorf("steertoken: sign: no key %q in the key set", id)
	}
	if !k.CanSign() {
		return "", fmt.Errorf("steertoken: sign: key %q has no private key", id)
	}
	var buf [maxRaw]byte
	b, err := appendBody(buf[:0], k, c)
	if err != nil {
		return "", fmt.Errorf("steertoken: sign: %w", err)
	}
	switch k.Alg {
	case Ed25519:
		b = append(b, ed25519.Sign(k.Private, b)...)
	case HMACSHA256:
		mac := hmacSHA256(k.Secret, b)
		b = append(b, mac[:]...)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func appendBody(b []byte, k *Key, c Claims) ([]byte, error) {
	if !validLabel(c.PoP) {
		return nil, fmt.Errorf("bad PoP label %q: want 1 to 63 of a-z 0-9 - _, not starting or ending with -", c.PoP)
	}
	p := c.Network
	if !p.IsValid() {
		return nil, fmt.Errorf("no client network")
	}
	if p.Addr().Is4In6() {
		return nil, fmt.Errorf("network %s: an IPv4-mapped prefix: use the IPv4 form", p)
	}
	if p.Addr().Zone() != "" {
		return nil, fmt.Errorf("network %s: has a zone", p)
	}
	p = p.Masked()
	netByte := byte(p.Bits())
	if p.Addr().Is4() {
		if p.Bits() > maxV4Bits {
			return nil, fmt.Errorf("network %s: longer than /%d (privacy: tokens name a client network, never an address)", p, maxV4Bits)
		}
	} else {
		if p.Bits() > maxV6Bits {
			return nil, fmt.Errorf("network %s: longer than /%d (privacy: tokens name a client network, never an address)", p, maxV6Bits)
		}
		netByte |= 0x80
	}
	iat, exp := c.IssuedAt.Unix(), c.Expires.Unix()
	if c.IssuedAt.IsZero() || iat < 0 || iat > math.MaxUint32 {
		return nil, fmt.Errorf("issued-at %v: outside 1970..2106", c.IssuedAt)
	}
	if c.Expires.IsZero() || exp < 0 || exp > math.MaxUint32 {
		return nil, fmt.Errorf("expiry %v: outside 1970..2106", c.Expires)
	}
	if exp <= iat {
		return nil, fmt.Errorf("expiry %v: not after issued-at %v", c.Expires, c.IssuedAt)
	}
	b = append(b, Version, byte(k.Alg), byte(len(k.ID)))
	b = append(b, k.ID...)
	b = append(b, byte(len(c.PoP)))
	b = append(b, c.PoP...)
	b = append(b, netByte)
	a := p.Addr().AsSlice()
	b = append(b, a[:(p.Bits()+7)/8]...)
	b = binary.BigEndian.AppendUint32(b, uint32(iat))
	b = binary.BigEndian.AppendUint32(b, uint32(exp))
	return b, nil
}

// Verify decodes token, checks it against the key set ks at time now and,
// when client is valid, that client lies in the token's network (an
// IPv4-mapped IPv6 client counts as its IPv4 address). A PoP passes the
// address the request came from; the zero Addr skips the network check.
// A rejected token is an [*Error]: errors.Is(err, ErrExpired) and the like,
// or [ReasonOf] to switch on.
func Verify(ks *KeySet, token string, now time.Time, client netip.Addr) (Claims, error) {
	var buf [maxRaw]byte
	raw, err := decode(buf[:], token)
	if err != nil {
		return Claims{}, err
	}
	t, err := parse(raw)
	if err != nil {
		return Claims{}, err
	}
	kid := t.keyID.of(raw)
	k := ks.keys[string(kid)]
	if k == nil {
		return Claims{}, &Error{Reason: UnknownKey, Detail: fmt.Sprintf("key id %q", string(kid))}
	}
	if k.Alg != t.alg {
		return Claims{}, &Error{Reason: WrongAlgorithm, Detail: fmt.Sprintf("token is %s, key %q is %s", t.alg, k.ID, k.Alg)}
	}
	switch k.Alg {
	case Ed25519:
		if !ed25519.Verify(k.Public, raw[:t.bodyLen], raw[t.bodyLen:]) {
			return Claims{}, ErrBadSignature
		}
	case HMACSHA256:
		mac := hmacSHA256(k.Secret, raw[:t.bodyLen])
		if subtle.ConstantTimeCompare(mac[:], raw[t.bodyLen:]) != 1 {
			return Claims{}, ErrBadSignature
		}
	}
	skew := int64(ks.Skew / time.Second)
	unix := now.Unix()
	if int64(t.iat) > unix+skew {
		return Claims{}, &Error{Reason: NotYetValid, Detail: fmt.Sprintf("issued at %s, now %s", fmtUnix(int64(t.iat)), fmtUnix(unix))}
	}
	if unix >= int64(t.exp)+skew {
		return Claims{}, &Error{Reason: Expired, Detail: fmt.Sprintf("expired at %s, now %s", fmtUnix(int64(t.exp)), fmtUnix(unix))}
	}
	if client.IsValid() && !t.network.Contains(client.Unmap().WithZone("")) {
		return Claims{}, &Error{Reason: WrongNetwork, Detail: "client " + ClientNetwork(client).String() + " is not in " + t.network.String()}
	}
	return Claims{
		KeyID:    k.ID,
		PoP:      string(t.pop.of(raw)),
		Network:  t.network,
		IssuedAt: time.Unix(int64(t.iat), 0),
		Expires:  time.Unix(int64(t.exp), 0),
	}, nil
}

// Inspect decodes token without verifying it: for display and debugging
// only, never to trust. It fails only on a malformed token or an
// unsupported version.
func Inspect(token string) (Claims, error) {
	var buf [maxRaw]byte
	raw, err := decode(buf[:], token)
	if err != nil {
		return Claims{}, err
	}
	t, err := parse(raw)
	if err != nil {
		return Claims{}, err
	}
	return Claims{KeyID: string(t.keyID.of(raw)), PoP: string(t.pop.of(raw)), Network: t.network,
		IssuedAt: time.Unix(int64(t.iat), 0), Expires: time.Unix(int64(t.exp), 0)}, nil
}

func fmtUnix(s int64) string { return time.Unix(s, 0).UTC().Format(time.RFC3339) }

// decode is strict base64url without padding into dst.
func decode(dst []byte, token string) ([]byte, error) {
	if len(token) == 0 {
		return nil, malformed("empty token")
	}
	if len(token) > maxEncoded {
		return nil, malformed(fmt.Sprintf("%d characters, longer than the longest token (%d)", len(token), maxEncoded))
	}
	n, err := decodeString(dst, token)
	if err != nil {
		return nil, err
	}
	return dst[:n], nil
}

// parsed is a decoded token. It holds offsets into the decoded bytes
// rather than slices of them, so that returning its network does not make
// the caller's stack buffer escape.
type parsed struct {
	alg        Alg
	keyID, pop span
	network    netip.Prefix
	iat, exp   uint32
	bodyLen    int // the signature covers b[:bodyLen]; the rest is the signature
}

// span is b[off:off+n].
type span struct{ off, n int }

func (s span) of(b []byte) []byte { return b[s.off : s.off+s.n] }

func parse(b []byte) (parsed, error) {
	var t parsed
	if len(b) < headerLen {
		return t, malformed(fmt.Sprintf("%d bytes, shorter than the header", len(b)))
	}
	if b[0] != Version {
		return t, &Error{Reason: UnsupportedVersion, Detail: fmt.Sprintf("version %d, want %d", b[0], Version)}
	}
	t.alg = Alg(b[1])
	sigLen := t.alg.sigSize()
	if sigLen == 0 {
		return t, malformed(fmt.Sprintf("unknown algorithm %d", b[1]))
	}
	i := 2
	n := int(b[i])
	i++
	if n == 0 || n > maxKeyID {
		return t, malformed(fmt.Sprintf("key id length %d, want 1..%d", n, maxKeyID))
	}
	if len(b) < i+n+1 {
		return t, malformed("truncated in the key id")
	}
	t.keyID = span{i, n}
	if !validKeyID(t.keyID.of(b)) {
		return t, malformed("key id has a character outside A-Z a-z 0-9 . _ -")
	}
	i += n
	n = int(b[i])
	i++
	if n == 0 || n > maxLabel {
		return t, malformed(fmt.Sprintf("PoP label length %d, want 1..%d", n, maxLabel))
	}
	if len(b) < i+n+1 {
		return t, malformed("truncated in the PoP label")
	}
	t.pop = span{i, n}
	if !validLabel(t.pop.of(b)) {
		return t, malformed("bad PoP label: want a-z 0-9 - _, not starting or ending with -")
	}
	i += n
	netByte := b[i]
	i++
	bits := int(netByte & 0x7f)
	v6 := netByte&0x80 != 0
	if !v6 && bits > maxV4Bits || v6 && bits > maxV6Bits {
		return t, malformed(fmt.Sprintf("network prefix length /%d, longer than /%d (IPv4) or /%d (IPv6)", bits, maxV4Bits, maxV6Bits))
	}
	n = (bits + 7) / 8
	if len(b) < i+n+8 {
		return t, malformed("truncated in the network or times")
	}
	var a [16]byte
	copy(a[:], b[i:i+n])
	if bits%8 != 0 && a[n-1]&(0xff>>(bits%8)) != 0 {
		return t, malformed("network has bits set past its prefix length")
	}
	i += n
	if v6 {
		t.network = netip.PrefixFrom(netip.AddrFrom16(a), bits)
	} else {
		t.network = netip.PrefixFrom(netip.AddrFrom4([4]byte(a[:4])), bits)
	}
	t.iat = binary.BigEndian.Uint32(b[i:])
	t.exp = binary.BigEndian.Uint32(b[i+4:])
	i += 8
	if t.exp <= t.iat {
		return t, malformed("expiry not after issued-at")
	}
	t.bodyLen = i
	switch {
	case len(b)-i < sigLen:
		return t, malformed(fmt.Sprintf("truncated in the signature: %d of %d bytes", len(b)-i, sigLen))
	case len(b)-i > sigLen:
		return t, malformed(fmt.Sprintf("%d bytes after the signature", len(b)-i-sigLen))
	}
	return t, nil
}

// hmacSHA256 is HMAC-SHA256 (RFC 2104) of msg, msg no longer than maxRaw,
// computed on the stack: crypto/hmac allocates its hashes for each MAC.
// TestHMAC checks it against crypto/hmac.
func hmacSHA256(key, msg []byte) [sha256.Size]byte {
	const block = 64
	var k [block]byte
	if len(key) > block {
		sum := sha256.Sum256(key)
		copy(k[:], sum[:])
	} else {
		copy(k[:], key)
	}
	var in [block + maxRaw]byte
	for i := range block {
		in[i] = k[i] ^ 0x36
	}
	n := copy(in[block:], msg)
	inner := sha256.Sum256(in[:block+n])
	var out [block + sha256.Size]byte
	for i := range block {
		out[i] = k[i] ^ 0x5c
	}
	copy(out[block:], inner[:])
	return sha256.Sum256(out[:])
}

func validLabel[S string | []byte](l S) bool {
	if len(l) == 0 || len(l) > maxLabel || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func validKeyID[S string | []byte](id S) bool {
	if len(id) == 0 || len(id) > maxKeyID {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}
