package steertoken

import "fmt"

// decodeMap maps a base64url character to its 6 bits, 0xff for any other
// byte.
var decodeMap = func() (m [256]byte) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range m {
		m[i] = 0xff
	}
	for i := range len(alphabet) {
		m[alphabet[i]] = byte(i)
	}
	return m
}()

// decodeString decodes s, base64url without padding (RFC 4648 §5), into
// dst and returns the number of bytes written. It is strict as
// base64.RawURLEncoding.Strict (no padding, no newlines, the unused bits
// of the last character zero: one token has one spelling) and, unlike
// DecodeString, reads a string without copying it to the heap.
// FuzzDecodeString checks it against encoding/base64. dst must hold
// len(s)*6/8 bytes.
func decodeString(dst []byte, s string) (int, error) {
	if len(s)%4 == 1 {
		return 0, malformed(fmt.Sprintf("base64url: %d characters, not a possible length", len(s)))
	}
	n := 0
	var acc uint32
	bits := 0
	for i := 0; i < len(s); i++ {
		v := decodeMap[s[i]]
		if v == 0xff {
			return 0, malformed(fmt.Sprintf("base64url: illegal character %q at offset %d", s[i], i))
		}
		acc = acc<<6 | uint32(v)
		bits += 6
		if bits >= 8 {
			bits -= 8
			dst[n] = byte(acc >> bits)
			n++
			acc &= 1<<bits - 1
		}
	}
	if acc != 0 {
		return 0, malformed("base64url: the last character has unused bits set")
	}
	return n, nil
}
