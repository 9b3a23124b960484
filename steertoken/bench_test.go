package steertoken

import (
	"net/netip"
	"testing"
)

// BenchmarkVerify is what a PoP pays per request carrying a token: decode,
// parse, key lookup, signature, time window and network check.
func BenchmarkVerify(b *testing.B) {
	client := netip.MustParseAddr("203.0.113.9")
	for _, k := range []Key{edKey("k1", 1), hmacKey("k1", 2)} {
		b.Run(k.Alg.String(), func(b *testing.B) {
			ks := keySet(b, "", k)
			tok := sign(b, ks, claims("fra", "203.0.113.0/24"))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Verify(ks, tok, now, client); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyReject is a forged token's cost: a bad signature.
func BenchmarkVerifyReject(b *testing.B) {
	client := netip.MustParseAddr("203.0.113.9")
	for _, k := range []Key{edKey("k1", 1), hmacKey("k1", 2)} {
		b.Run(k.Alg.String(), func(b *testing.B) {
			ks := keySet(b, "", k)
			forged := sign(b, keySet(b, "", edKeyOrHMAC(k.Alg)), claims("fra", "203.0.113.0/24"))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Verify(ks, forged, now, client); ReasonOf(err) != BadSignature {
					b.Fatal(err)
				}
			}
		})
	}
}

func edKeyOrHMAC(a Alg) Key {
	if a == Ed25519 {
		return edKey("k1", 9)
	}
	return hmacKey("k1", 9)
}

func BenchmarkSign(b *testing.B) {
	for _, k := range []Key{edKey("k1", 1), hmacKey("k1", 2)} {
		b.Run(k.Alg.String(), func(b *testing.B) {
			ks := keySet(b, "", k)
			c := claims("fra", "203.0.113.0/24")
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Sign(ks, c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
