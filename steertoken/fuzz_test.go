package steertoken

import (
	"bytes"
	"encoding/base64"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// FuzzVerify: Verify and Inspect never panic; a token they accept is
// canonical (signing its claims again gives the same string) and lies
// inside the layout's bounds. Seeded with the table tests' tokens.
func FuzzVerify(f *testing.F) {
	ed, hm := edKey("k1", 1), hmacKey("h1", 2)
	ks := keySet(f, "k1", ed, hm)
	for _, k := range []string{"k1", "h1"} {
		for _, n := range []string{"203.0.113.0/24", "198.51.100.0/22", "0.0.0.0/0", "2001:db8:10:ab00::/56", "2001:db8::/3"} {
			c := claims("fra", n)
			c.KeyID = k
			f.Add(sign(f, ks, c))
		}
	}
	iat, exp := uint32(now.Unix()), uint32(now.Add(time.Hour).Unix())
	for _, b := range [][]byte{
		body(1, 1, "k1", "fra", 32, []byte{203, 0, 113, 5}, iat, exp),
		body(2, 1, "k1", "fra", 24, []byte{203, 0, 113}, iat, exp),
		body(1, 2, "k1", "fra", 24, []byte{203, 0, 113}, iat, exp),
		body(1, 1, "k1", "fra", 20, []byte{203, 0, 113}, iat, exp),
		body(1, 1, "k1", "fra", 24, []byte{203, 0, 113}, exp, iat),
	} {
		f.Add(signRaw(ed, b))
	}
	for _, s := range []string{"", "not a token!", "AAAA", "AQEC", "AQECazEDZnJh"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		in, ierr := Inspect(tok)
		c, err := Verify(ks, tok, now, netip.Addr{})
		if err != nil {
			if ReasonOf(err) == 0 {
				t.Fatalf("Verify(%q): %v has no reason", tok, err)
			}
			return
		}
		if ierr != nil || in.String() != c.String() {
			t.Fatalf("Verify accepted %q (%v) but Inspect says %v, %v", tok, c, in, ierr)
		}
		if len(tok) > maxEncoded {
			t.Fatalf("accepted %d characters", len(tok))
		}
		again, err := Sign(ks, c)
		if err != nil {
			t.Fatalf("claims %v of an accepted token do not sign: %v", c, err)
		}
		if again != tok {
			t.Fatalf("accepted %q, its claims sign as %q", tok, again)
		}
	})
}

// FuzzParseKeySet: ParseKeySet never panics, and a key set it accepts
// writes a file (Marshal) that parses to the same key set.
func FuzzParseKeySet(f *testing.F) {
	for _, tc := range keySetCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ks, err := ParseKeySet(data)
		if err != nil {
			return
		}
		out := ks.Marshal(true)
		ks2, err := ParseKeySet(out)
		if err != nil {
			t.Fatalf("accepted key set writes a file it refuses: %v\n%s", err, out)
		}
		if again := ks2.Marshal(true); !bytes.Equal(again, out) {
			t.Fatalf("key set changes through a file:\n%s\n%s", out, again)
		}
	})
}

// FuzzDecodeString: the stack decoder is encoding/base64's strict raw URL
// encoding, except that it refuses newlines.
func FuzzDecodeString(f *testing.F) {
	for _, s := range []string{"", "A", "AA", "AB", "AAA", "AAB", "AAAA", "-_-_", "a+b/", "AQ==", "AQEC"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 4*maxRaw/3 || strings.ContainsAny(s, "\r\n") {
			return // encoding/base64 skips newlines even when strict; tokens have none
		}
		var buf [maxRaw]byte
		n, err := decodeString(buf[:], s)
		want, werr := base64.RawURLEncoding.Strict().DecodeString(s)
		if (err == nil) != (werr == nil) {
			t.Fatalf("decodeString(%q): %v, encoding/base64: %v", s, err, werr)
		}
		if err == nil && !bytes.Equal(buf[:n], want) {
			t.Fatalf("decodeString(%q) = %x, want %x", s, buf[:n], want)
		}
	})
}
