package steertoken

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// now is the tests' clock.
var now = time.Date(2026, 12, 8, 12, 0, 0, 0, time.UTC)

// edKey and hmacKey are deterministic test keys: seed byte s.
func edKey(id string, s byte) Key {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{s}, ed25519.SeedSize))
	return Key{ID: id, Alg: Ed25519, Public: priv.Public().(ed25519.PublicKey), Private: priv}
}

func hmacKey(id string, s byte) Key {
	return Key{ID: id, Alg: HMACSHA256, Secret: bytes.Repeat([]byte{s}, MinSecret)}
}

// verifier is k without its private key.
func verifier(k Key) Key { k.Private = nil; return k }

func keySet(t testing.TB, signing string, keys ...Key) *KeySet {
	t.Helper()
	ks, err := NewKeySet(keys, signing)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func claims(pop, network string) Claims {
	return Claims{PoP: pop, Network: netip.MustParsePrefix(network), IssuedAt: now, Expires: now.Add(time.Hour)}
}

func sign(t testing.TB, ks *KeySet, c Claims) string {
	t.Helper()
	tok, err := Sign(ks, c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// signRaw signs arbitrary body bytes with k, to build tokens Sign refuses
// to make (other versions, non-canonical networks).
func signRaw(k Key, body []byte) string {
	b := bytes.Clone(body)
	if k.Alg == Ed25519 {
		b = append(b, ed25519.Sign(k.Private, body)...)
	} else {
		m := hmac.New(sha256.New, k.Secret)
		m.Write(body)
		b = m.Sum(b)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// body is the layout before the signature, field by field.
func body(version, alg byte, kid, pop string, netByte byte, addr []byte, iat, exp uint32) []byte {
	b := []byte{version, alg, byte(len(kid))}
	b = append(b, kid...)
	b = append(b, byte(len(pop)))
	b = append(b, pop...)
	b = append(b, netByte)
	b = append(b, addr...)
	b = binary.BigEndian.AppendUint32(b, iat)
	return binary.BigEndian.AppendUint32(b, exp)
}

func TestRoundTrip(t *testing.T) {
	for _, k := range []Key{edKey("k1", 1), hmacKey("k1", 2)} {
		for _, tc := range []struct {
			network string
			client  string
		}{
			{"203.0.113.0/24", "203.0.113.77"},
			{"198.51.100.0/22", "198.51.101.1"},
			{"0.0.0.0/0", "192.0.2.1"},
			{"2001:db8:10:ab00::/56", "2001:db8:10:abff::1"},
			{"2001:db8::/32", "2001:db8:ffff::2"},
			{"203.0.113.0/24", "::ffff:203.0.113.9"}, // a mapped client is its IPv4 address
		} {
			t.Run(k.Alg.String()+"/"+tc.network+"/"+tc.client, func(t *testing.T) {
				signer := keySet(t, "", k)
				c := claims("fra", tc.network)
				tok := sign(t, signer, c)
				if strings.ContainsAny(tok, "+/=") {
					t.Errorf("token %q is not URL-safe", tok)
				}
				got, err := Verify(keySet(t, "", verifier(k)), tok, now.Add(time.Minute), netip.MustParseAddr(tc.client))
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				c.KeyID = "k1"
				if got.PoP != c.PoP || got.Network != c.Network || got.KeyID != c.KeyID || !got.IssuedAt.Equal(c.IssuedAt) || !got.Expires.Equal(c.Expires) {
					t.Errorf("Verify = %+v, want %+v", got, c)
				}
				// Inspect reads the same claims without keys.
				if in, err := Inspect(tok); err != nil || in.String() != got.String() {
					t.Errorf("Inspect = %v, %v, want %v", in, err, got)
				}
				// No client address: the network is not checked.
				if _, err := Verify(signer, tok, now, netip.Addr{}); err != nil {
					t.Errorf("Verify without a client: %v", err)
				}
			})
		}
	}
}

// TestTokenSize: the package doc's sizes, and the issue's "< 120
// characters for Ed25519".
func TestTokenSize(t *testing.T) {
	for _, tc := range []struct {
		k    Key
		c    Claims
		want int
	}{
		{edKey("k1", 1), claims("fra", "203.0.113.0/24"), 114},
		{hmacKey("k1", 1), claims("fra", "203.0.113.0/24"), 71},
		{edKey("k1", 1), claims("fra", "2001:db8:10:ab00::/56"), 119},
	} {
		if tok := sign(t, keySet(t, "", tc.k), tc.c); len(tok) != tc.want {
			t.Errorf("%v %s: %d characters, want %d: %s", tc.k.Alg, tc.c.Network, len(tok), tc.want, tok)
		}
	}
	// The longest token fits maxEncoded.
	long := edKey(strings.Repeat("k", maxKeyID), 1)
	c := claims(strings.Repeat("p", maxLabel), "2001:db8:10:ab00::/56")
	if tok := sign(t, keySet(t, "", long), c); len(tok) != maxEncoded {
		t.Errorf("longest token: %d characters, want %d", len(tok), maxEncoded)
	}
}

// TestReject: every reason Verify rejects a token for.
func TestReject(t *testing.T) {
	ed, ed2, hm := edKey("k1", 1), edKey("k2", 3), hmacKey("h1", 2)
	signer := keySet(t, "k1", ed, ed2, hm)
	ver := keySet(t, "", verifier(ed), verifier(ed2), hm)
	good := sign(t, signer, claims("fra", "203.0.113.0/24"))
	goodHMAC := sign(t, signer, Claims{KeyID: "h1", PoP: "fra", Network: netip.MustParsePrefix("203.0.113.0/24"), IssuedAt: now, Expires: now.Add(time.Hour)})
	iat, exp := uint32(now.Unix()), uint32(now.Add(time.Hour).Unix())
	client := netip.MustParseAddr("203.0.113.5")
	for _, tc := range []struct {
		name   string
		ks     *KeySet
		token  string
		now    time.Time
		client netip.Addr
		want   Reason
		detail string // in the error message
	}{
		{"valid", ver, good, now, client, 0, ""},
		{"valid hmac", ver, goodHMAC, now, client, 0, ""},

		{"empty", ver, "", now, client, Malformed, "empty token"},
		{"garbage characters", ver, "not a token!", now, client, Malformed, "illegal character"},
		{"padding", ver, good + "==", now, client, Malformed, "base64url"},
		{"standard base64 alphabet", ver, strings.NewReplacer("-", "+", "_", "/").Replace(good) + "+", now, client, Malformed, "illegal character"},
		{"impossible length", ver, good[:len(good)-1], now, client, Malformed, "not a possible length"},
		{"too long", ver, strings.Repeat("A", maxEncoded+1), now, client, Malformed, "longer than the longest token"},
		{"random bytes", ver, base64.RawURLEncoding.EncodeToString([]byte("\x01\x01\x02k1garbage garbage garbage")), now, client, Malformed, "PoP label"},
		{"header only", ver, base64.RawURLEncoding.EncodeToString([]byte{1, 1}), now, client, Malformed, "shorter than the header"},
		{"truncated signature", ver, good[:len(good)-2], now, client, Malformed, "truncated in the signature"},
		{"trailing bytes", ver, signRaw(ed, body(1, 1, "k1", "fra", 24, []byte{203, 0, 113}, iat, exp)) + "AA", now, client, Malformed, "after the signature"},
		{"non-canonical base64", ver, good[:len(good)-1] + string(good[len(good)-1]+1), now, client, Malformed, "unused bits"},
		{"unknown algorithm", ver, signRaw(ed, body(1, 9, "k1", "fra", 24, []byte{203, 0, 113}, iat, exp)), now, client, Malformed, "unknown algorithm 9"},
		{"zero key id length", ver, signRaw(ed, body(1, 1, "", "fra", 24, []byte{203, 0, 113}, iat, exp)), now, client, Malformed, "key id length 0"},
		{"bad key id character", ver, signRaw(ed, body(1, 1, "k 1", "fra", 24, []byte{203, 0, 113}, iat, exp)), now, client, Malformed, "key id has a character"},
		{"bad PoP label", ver, signRaw(ed, body(1, 1, "k1", "Fra", 24, []byte{203, 0, 113}, iat, exp)), now, client, Malformed, "bad PoP label"},
		{"IPv4 /32", ver, signRaw(ed, body(1, 1, "k1", "fra", 32, []byte{203, 0, 113, 5}, iat, exp)), now, client, Malformed, "longer than /24"},
		{"IPv6 /64", ver, signRaw(ed, body(1, 1, "k1", "fra", 0x80|64, make([]byte, 8), iat, exp)), now, client, Malformed, "prefix length /64"},
		{"host bits set", ver, signRaw(ed, body(1, 1, "k1", "fra", 20, []byte{203, 0, 113}, iat, exp)), now, client, Malformed, "bits set past its prefix length"},
		{"expiry before issue", ver, signRaw(ed, body(1, 1, "k1", "fra", 24, []byte{203, 0, 113}, exp, iat)), now, client, Malformed, "expiry not after issued-at"},

		{"version 0", ver, signRaw(ed, body(0, 1, "k1", "fra", 24, []byte{203, 0, 113}, iat, exp)), now, client, UnsupportedVersion, "version 0, want 1"},
		{"version 2", ver, signRaw(ed, body(2, 1, "k1", "fra", 24, []byte{203, 0, 113}, iat, exp)), now, client, UnsupportedVersion, "version 2"},

		{"key rotated out", keySet(t, "", verifier(ed2)), good, now, client, UnknownKey, `key id "k1"`},
		{"other signer's key id", ver, sign(t, keySet(t, "", edKey("other", 9)), claims("fra", "203.0.113.0/24")), now, client, UnknownKey, `"other"`},

		{"hmac token, ed25519 key", keySet(t, "", Key{ID: "h1", Alg: Ed25519, Public: ed.Public}), goodHMAC, now, client, WrongAlgorithm, "token is hmac-sha256"},
		{"ed25519 token, hmac key", keySet(t, "", hmacKey("k1", 2)), good, now, client, WrongAlgorithm, "token is ed25519"},

		{"ed25519 signed with another key of the same id", ver, sign(t, keySet(t, "", edKey("k1", 7)), claims("fra", "203.0.113.0/24")), now, client, BadSignature, ""},
		{"hmac signed with another secret of the same id", ver, sign(t, keySet(t, "", hmacKey("h1", 7)), claims("fra", "203.0.113.0/24")), now, client, BadSignature, ""},
		{"ed25519 signature zeroed", ver, zeroSig(good), now, client, BadSignature, ""},

		{"not yet valid", ver, good, now.Add(-DefaultSkew - time.Second), client, NotYetValid, "issued at 2026-12-08T12:00:00Z"},
		{"issued within the skew", ver, good, now.Add(-DefaultSkew), client, 0, ""},
		{"expired", ver, good, now.Add(time.Hour + DefaultSkew), client, Expired, "expired at 2026-12-08T13:00:00Z"},
		{"expired within the skew", ver, good, now.Add(time.Hour + DefaultSkew - time.Second), client, 0, ""},
		{"expired long ago", ver, good, now.Add(24 * time.Hour), client, Expired, ""},
		{"expired, no skew", keySet(t, "", verifier(ed)).withSkew(0), good, now.Add(time.Hour), client, Expired, ""},

		{"wrong IPv4 network", ver, good, now, netip.MustParseAddr("203.0.114.5"), WrongNetwork, "client 203.0.114.0/24 is not in 203.0.113.0/24"},
		{"IPv6 client, IPv4 token", ver, good, now, netip.MustParseAddr("2001:db8::1"), WrongNetwork, "client 2001:db8::/56"},
		{"wrong mapped client", ver, good, now, netip.MustParseAddr("::ffff:198.51.100.1"), WrongNetwork, "198.51.100.0/24"},
		{"wrong IPv6 network", ver, sign(t, signer, claims("fra", "2001:db8:10:ab00::/56")), now, netip.MustParseAddr("2001:db8:10:ac00::1"), WrongNetwork, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Verify(tc.ks, tc.token, tc.now, tc.client)
			if got := ReasonOf(err); got != tc.want {
				t.Fatalf("Verify: reason %v (%v), want %v", got, err, tc.want)
			}
			if tc.want == 0 {
				if c.PoP != "fra" {
					t.Errorf("Verify: claims %+v", c)
				}
				return
			}
			if !strings.Contains(err.Error(), tc.detail) || !strings.Contains(err.Error(), tc.want.String()) {
				t.Errorf("Verify: %q does not say %q and %q", err, tc.want, tc.detail)
			}
			if sentinel := (&Error{Reason: tc.want}); !errors.Is(err, sentinel) {
				t.Errorf("errors.Is(%v, %v) = false", err, sentinel)
			}
			if c != (Claims{}) {
				t.Errorf("a rejected token returned claims %+v", c)
			}
		})
	}
}

func (ks *KeySet) withSkew(d time.Duration) *KeySet { ks.Skew = d; return ks }

// zeroSig is tok with its Ed25519 signature zeroed.
func zeroSig(tok string) string {
	b, _ := base64.RawURLEncoding.DecodeString(tok)
	clear(b[len(b)-ed25519.SignatureSize:])
	return base64.RawURLEncoding.EncodeToString(b)
}

// TestTamper flips every bit of every byte of a token, and changes every
// character of its text: each change is rejected, and a change to a
// signed value (PoP, network, times) or to the signature is a bad
// signature.
func TestTamper(t *testing.T) {
	for _, k := range []Key{edKey("k1", 1), hmacKey("k1", 2)} {
		t.Run(k.Alg.String(), func(t *testing.T) {
			ks := keySet(t, "", k)
			tok := sign(t, ks, claims("fra", "203.0.113.0/24"))
			raw, _ := base64.RawURLEncoding.DecodeString(tok)
			// Offsets: version 0, alg 1, key id length 2, key id 3-4,
			// label length 5, label 6-8, network 9, address 10-12,
			// times 13-20, signature 21-.
			for i := range raw {
				for bit := range 8 {
					b := bytes.Clone(raw)
					b[i] ^= 1 << bit
					_, err := Verify(ks, base64.RawURLEncoding.EncodeToString(b), now, netip.Addr{})
					r := ReasonOf(err)
					switch {
					case r == 0:
						t.Fatalf("byte %d bit %d flipped: accepted", i, bit)
					case i >= 6 && i != 9 && r != BadSignature && r != Malformed:
						t.Errorf("byte %d bit %d flipped: %v, want a bad signature", i, bit, err)
					case i >= 6 && i != 9 && r == Malformed && !strings.Contains(err.Error(), "PoP label") && !strings.Contains(err.Error(), "expiry not after") && !strings.Contains(err.Error(), "past its prefix"):
						t.Errorf("byte %d bit %d flipped: %v", i, bit, err)
					}
				}
			}
			for i := range len(tok) {
				for _, c := range "A_-z9" {
					if byte(c) == tok[i] {
						continue
					}
					s := tok[:i] + string(c) + tok[i+1:]
					if _, err := Verify(ks, s, now, netip.Addr{}); err == nil {
						t.Fatalf("character %d changed to %c: accepted", i, c)
					}
				}
			}
			// Every truncation.
			for n := range len(tok) {
				if _, err := Verify(ks, tok[:n], now, netip.Addr{}); ReasonOf(err) != Malformed {
					t.Fatalf("truncated to %d characters: %v, want malformed", n, err)
				}
			}
		})
	}
}

// TestRotation: a token signed by the old key verifies while the old key
// is in the set; new tokens are signed by the new key; once the old key
// is removed its tokens are an unknown key.
func TestRotation(t *testing.T) {
	k1, k2 := edKey("2026-11", 1), edKey("2026-12", 2)
	before := keySet(t, "2026-11", k1)
	old := sign(t, before, claims("fra", "203.0.113.0/24"))

	during := keySet(t, "2026-12", k1, k2) // k2 added, then made the signing key
	fresh := sign(t, during, claims("ams", "203.0.113.0/24"))
	verifiers := keySet(t, "", verifier(k1), verifier(k2))
	for _, tok := range []string{old, fresh} {
		if _, err := Verify(verifiers, tok, now, netip.Addr{}); err != nil {
			t.Errorf("during rotation: %v", err)
		}
	}
	if c, _ := Verify(verifiers, fresh, now, netip.Addr{}); c.KeyID != "2026-12" {
		t.Errorf("new token signed by %q, want the new signing key", c.KeyID)
	}
	// An explicit key id still signs with the old key.
	if c, err := Verify(verifiers, sign(t, during, Claims{KeyID: "2026-11", PoP: "fra", Network: netip.MustParsePrefix("203.0.113.0/24"), IssuedAt: now, Expires: now.Add(time.Minute)}), now, netip.Addr{}); err != nil || c.KeyID != "2026-11" {
		t.Errorf("explicit old key: %v, %v", c, err)
	}

	after := keySet(t, "", verifier(k2))
	if _, err := Verify(after, old, now, netip.Addr{}); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("after rotation, the old key's token: %v, want an unknown key", err)
	}
	if _, err := Verify(after, fresh, now, netip.Addr{}); err != nil {
		t.Errorf("after rotation, the new key's token: %v", err)
	}
}

func TestSignErrors(t *testing.T) {
	ed := edKey("k1", 1)
	ks := keySet(t, "k1", ed, hmacKey("h1", 2), Key{ID: "pub", Alg: Ed25519, Public: edKey("pub", 3).Public})
	mk := func(f func(*Claims)) Claims { c := claims("fra", "203.0.113.0/24"); f(&c); return c }
	for _, tc := range []struct {
		name string
		ks   *KeySet
		c    Claims
		want string
	}{
		{"IPv4 address", ks, mk(func(c *Claims) { c.Network = netip.MustParsePrefix("203.0.113.7/32") }), "longer than /24 (privacy"},
		{"IPv4 /25", ks, mk(func(c *Claims) { c.Network = netip.MustParsePrefix("203.0.113.0/25") }), "longer than /24"},
		{"IPv6 /64", ks, mk(func(c *Claims) { c.Network = netip.MustParsePrefix("2001:db8::/64") }), "longer than /56"},
		{"mapped", ks, mk(func(c *Claims) { c.Network = netip.MustParsePrefix("::ffff:203.0.113.0/120") }), "IPv4-mapped"},
		{"no network", ks, mk(func(c *Claims) { c.Network = netip.Prefix{} }), "no client network"},
		{"empty label", ks, mk(func(c *Claims) { c.PoP = "" }), "bad PoP label"},
		{"upper-case label", ks, mk(func(c *Claims) { c.PoP = "FRA" }), "bad PoP label"},
		{"long label", ks, mk(func(c *Claims) { c.PoP = strings.Repeat("a", 64) }), "bad PoP label"},
		{"expiry before issue", ks, mk(func(c *Claims) { c.Expires = c.IssuedAt }), "not after issued-at"},
		{"no issue time", ks, mk(func(c *Claims) { c.IssuedAt = time.Time{} }), "issued-at"},
		{"after 2106", ks, mk(func(c *Claims) { c.Expires = time.Date(2107, 1, 1, 0, 0, 0, 0, time.UTC) }), "outside 1970..2106"},
		{"unknown key id", ks, mk(func(c *Claims) { c.KeyID = "nope" }), `no key "nope"`},
		{"verify-only key", ks, mk(func(c *Claims) { c.KeyID = "pub" }), `key "pub" has no private key`},
		{"no signing key", keySet(t, "", verifier(ed), hmacKey("h1", 1), hmacKey("h2", 2)), claims("fra", "203.0.113.0/24"), "no signing key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := Sign(tc.ks, tc.c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Sign = %q, %v, want an error saying %q", tok, err, tc.want)
			}
		})
	}
	// A network with host bits is masked, not refused.
	tok := sign(t, ks, mk(func(c *Claims) { c.Network = netip.MustParsePrefix("203.0.113.7/24") }))
	if c, err := Verify(ks, tok, now, netip.Addr{}); err != nil || c.Network.String() != "203.0.113.0/24" {
		t.Errorf("host bits: %v, %v", c, err)
	}
}

func TestClientNetwork(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.77":        "203.0.113.0/24",
		"::ffff:203.0.113.77": "203.0.113.0/24",
		"2001:db8:1:2ff::1":   "2001:db8:1:200::/56",
		"fe80::1%eth0":        "fe80::/56",
	} {
		if got := ClientNetwork(netip.MustParseAddr(in)); got.String() != want {
			t.Errorf("ClientNetwork(%s) = %s, want %s", in, got, want)
		}
	}
	if got := ClientNetwork(netip.Addr{}); got.IsValid() {
		t.Errorf("ClientNetwork(zero) = %v", got)
	}
}

// TestHMAC: the stack HMAC is crypto/hmac's, for keys shorter than,
// equal to and longer than SHA-256's block.
func TestHMAC(t *testing.T) {
	for _, klen := range []int{0, 1, 32, 63, 64, 65, 200} {
		for _, mlen := range []int{0, 1, 55, 56, 64, 119, maxRaw - 32} {
			key := bytes.Repeat([]byte{byte(klen)}, klen)
			msg := bytes.Repeat([]byte{byte(mlen + 1)}, mlen)
			m := hmac.New(sha256.New, key)
			m.Write(msg)
			if got := hmacSHA256(key, msg); !bytes.Equal(got[:], m.Sum(nil)) {
				t.Errorf("key %d bytes, message %d bytes: differs from crypto/hmac", klen, mlen)
			}
		}
	}
}

// TestVerifyAllocs: Verify allocates only the returned PoP label.
func TestVerifyAllocs(t *testing.T) {
	for _, k := range []Key{edKey("k1", 1), hmacKey("k1", 2)} {
		ks := keySet(t, "", k)
		tok := sign(t, ks, claims("fra", "203.0.113.0/24"))
		client := netip.MustParseAddr("203.0.113.9")
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := Verify(ks, tok, now, client); err != nil {
				t.Fatal(err)
			}
		})
		if allocs > 1 {
			t.Errorf("%v: Verify allocates %.0f times, want at most 1", k.Alg, allocs)
		}
	}
}

func TestReasonString(t *testing.T) {
	for r := Malformed; r <= WrongNetwork; r++ {
		if s := r.String(); strings.HasPrefix(s, "Reason(") {
			t.Errorf("reason %d has no name", r)
		}
	}
	if ReasonOf(fmt.Errorf("wrapped: %w", &Error{Reason: Expired})) != Expired || ReasonOf(errors.New("other")) != 0 {
		t.Error("ReasonOf does not unwrap")
	}
	if errors.Is(&Error{Reason: Expired}, ErrWrongNetwork) {
		t.Error("errors.Is matches another reason")
	}
}
