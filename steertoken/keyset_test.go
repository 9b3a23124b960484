package steertoken

import (
	"bytes"
	"encoding/base64"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var (
	b64 = base64.StdEncoding.EncodeToString
	// Test key material: seed 1's public key and seed, a 32-byte secret.
	testPub    = b64(edKey("x", 1).Public)
	testSeed   = b64(bytes.Repeat([]byte{1}, 32))
	otherSeed  = b64(bytes.Repeat([]byte{2}, 32))
	testSecret = b64(bytes.Repeat([]byte{7}, 32))
)

// keySetCases are key-set files and the error each gives ("" for none);
// FuzzParseKeySet starts from them.
var keySetCases = []struct {
	name, in, want string
}{
	{"ed25519 signer", `{"keys":[{"id":"k1","alg":"ed25519","public":"` + testPub + `","private":"` + testSeed + `"}]}`, ""},
	{"ed25519 verifier", `{"keys":[{"id":"k1","alg":"ed25519","public":"` + testPub + `"}]}`, ""},
	{"hmac", `{"keys":[{"id":"h1","alg":"hmac-sha256","secret":"` + testSecret + `"}]}`, ""},
	{"rotation", `{"signing_key":"k2","keys":[{"id":"k1","alg":"ed25519","public":"` + testPub + `"},{"id":"k2","alg":"hmac-sha256","secret":"` + testSecret + `"}]}`, ""},
	{"two signers, none named", `{"keys":[{"id":"h1","alg":"hmac-sha256","secret":"` + testSecret + `"},{"id":"h2","alg":"hmac-sha256","secret":"` + testSecret + `"}]}`, ""},

	{"empty file", ``, "empty file"},
	{"not JSON", `keys: []`, "not JSON at byte 1"},
	{"array", `[]`, "the key set: want a JSON steertoken.file, got array"},
	{"no keys", `{"keys":[]}`, "keys: no keys"},
	{"keys not a list", `{"keys":{}}`, "keys: want a JSON []steertoken.fileKey, got object"},
	{"unknown field", `{"keys":[],"sign":"k1"}`, `unknown field "sign"`},
	{"unknown key field", `{"keys":[{"id":"k1","alg":"ed25519","public":"` + testPub + `","seed":"x"}]}`, `unknown field "seed"`},
	{"trailing data", `{"keys":[{"id":"h1","alg":"hmac-sha256","secret":"` + testSecret + `"}]} {}`, "data after the key set"},
	{"id a number", `{"keys":[{"id":1}]}`, "keys.id: want a JSON string, got number"},
	{"missing id", `{"keys":[{"alg":"ed25519"}]}`, "keys[0].id: missing"},
	{"bad id", `{"keys":[{"id":"k 1","alg":"hmac-sha256","secret":"` + testSecret + `"}]}`, `keys[0] ("k 1").id: "k 1": want 1 to 32 of`},
	{"long id", `{"keys":[{"id":"` + strings.Repeat("k", 33) + `","alg":"hmac-sha256","secret":"` + testSecret + `"}]}`, ".id:"},
	{"duplicate id", `{"keys":[{"id":"h1","alg":"hmac-sha256","secret":"` + testSecret + `"},{"id":"h1","alg":"hmac-sha256","secret":"` + testSecret + `"}]}`, `keys[1].id: duplicate key id "h1"`},
	{"missing alg", `{"keys":[{"id":"k1"}]}`, `keys[0] ("k1").alg: missing`},
	{"unknown alg", `{"keys":[{"id":"k1","alg":"rsa"}]}`, `keys[0] ("k1").alg: unknown algorithm "rsa"`},
	{"alias alg in a file", `{"keys":[{"id":"k1","alg":"hmac","secret":"` + testSecret + `"}]}`, `unknown algorithm "hmac"`},
	{"missing public", `{"keys":[{"id":"k1","alg":"ed25519","private":"` + testSeed + `"}]}`, `keys[0] ("k1").public: missing`},
	{"public not base64", `{"keys":[{"id":"k1","alg":"ed25519","public":"!!"}]}`, `keys[0] ("k1").public: not standard base64`},
	{"public base64url", `{"keys":[{"id":"k1","alg":"ed25519","public":"` + base64.RawURLEncoding.EncodeToString(edKey("x", 1).Public) + `"}]}`, `.public: not standard base64`},
	{"public short", `{"keys":[{"id":"k1","alg":"ed25519","public":"` + b64(make([]byte, 31)) + `"}]}`, `keys[0] ("k1").public: 31 bytes, want 32`},
	{"private short", `{"keys":[{"id":"k1","alg":"ed25519","public":"` + testPub + `","private":"` + b64(make([]byte, 64)) + `"}]}`, `.private: 64 bytes, want a 32-byte seed`},
	{"private not base64", `{"keys":[{"id":"k1","alg":"ed25519","public":"` + testPub + `","private":"a"}]}`, `.private: not standard base64`},
	{"private of another key", `{"keys":[{"id":"k1","alg":"ed25519","public":"` + testPub + `","private":"` + otherSeed + `"}]}`, `keys[0] ("k1").private: does not match public`},
	{"ed25519 with secret", `{"keys":[{"id":"k1","alg":"ed25519","public":"` + testPub + `","secret":"` + testSecret + `"}]}`, `.secret: an ed25519 key has public and private`},
	{"hmac with public", `{"keys":[{"id":"h1","alg":"hmac-sha256","public":"` + testPub + `","secret":"` + testSecret + `"}]}`, `an hmac-sha256 key has a secret, not public`},
	{"hmac missing secret", `{"keys":[{"id":"h1","alg":"hmac-sha256"}]}`, `keys[0] ("h1").secret: missing`},
	{"hmac short secret", `{"keys":[{"id":"h1","alg":"hmac-sha256","secret":"` + b64(make([]byte, 16)) + `"}]}`, `keys[0] ("h1").secret: 16 bytes, want at least 32`},
	{"signing key unknown", `{"signing_key":"k9","keys":[{"id":"h1","alg":"hmac-sha256","secret":"` + testSecret + `"}]}`, `signing_key: no key with id "k9"`},
	{"signing key verify-only", `{"signing_key":"k1","keys":[{"id":"k1","alg":"ed25519","public":"` + testPub + `"}]}`, `signing_key: key "k1" has no private key`},
}

func TestParseKeySet(t *testing.T) {
	for _, tc := range keySetCases {
		t.Run(tc.name, func(t *testing.T) {
			ks, err := ParseKeySet([]byte(tc.in))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("ParseKeySet: %v", err)
				}
				if len(ks.Keys()) == 0 || ks.Skew != DefaultSkew {
					t.Errorf("ParseKeySet: %d keys, skew %v", len(ks.Keys()), ks.Skew)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseKeySet: %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

func TestKeySetSigning(t *testing.T) {
	for in, want := range map[string]string{
		keySetCases[0].in: "k1", // the only key that can sign
		keySetCases[1].in: "",   // verify-only
		keySetCases[3].in: "k2", // named
		keySetCases[4].in: "",   // two can, none named
	} {
		ks, err := ParseKeySet([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		if got := ks.SigningKey(); got != want {
			t.Errorf("%s: signing key %q, want %q", in, got, want)
		}
	}
}

// TestKeySetFile: generated keys written as a file (Marshal) load back and
// sign and verify; the verifier's file (no private keys) verifies but
// cannot sign; LoadKeySet names the file in its errors.
func TestKeySetFile(t *testing.T) {
	ek, err := GenerateKey(Ed25519, "e1")
	if err != nil {
		t.Fatal(err)
	}
	hk, err := GenerateKey(HMACSHA256, "h1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := GenerateKey(Ed25519, "bad id"); err == nil {
		t.Error("GenerateKey accepted a bad id")
	}
	ks, err := NewKeySet([]Key{ek, hk}, "e1")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	signerPath, verifierPath := filepath.Join(dir, "signer.json"), filepath.Join(dir, "verifier.json")
	if err := os.WriteFile(signerPath, ks.Marshal(true), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(verifierPath, ks.Marshal(false), 0o644); err != nil {
		t.Fatal(err)
	}
	signer, err := LoadKeySet(signerPath)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(signer.Marshal(true)), string(ks.Marshal(true)); got != want {
		t.Errorf("reloaded signer file differs:\n%s\nwant\n%s", got, want)
	}
	ver, err := LoadKeySet(verifierPath)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(ver.Marshal(false)), "private") || ver.Key("e1").CanSign() {
		t.Errorf("the verifier's file has a private key:\n%s", ver.Marshal(false))
	}
	for _, id := range []string{"e1", "h1"} {
		c := claims("fra", "2001:db8:10:ab00::/56")
		c.KeyID = id
		tok := sign(t, signer, c)
		if _, err := Verify(ver, tok, now, netip.MustParseAddr("2001:db8:10:ab01::1")); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
	if _, err := Sign(ver, Claims{KeyID: "e1"}); err == nil || !strings.Contains(err.Error(), "no private key") {
		t.Errorf("verifier signs: %v", err)
	}
	// A file's errors name the file and the field.
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"keys":[{"id":"k1","alg":"ed25519","public":"AAAA"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeySet(bad); err == nil || !strings.Contains(err.Error(), bad+`: keys[0] ("k1").public: 3 bytes, want 32`) {
		t.Errorf("LoadKeySet(bad) = %v", err)
	}
	if _, err := LoadKeySet(filepath.Join(dir, "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("LoadKeySet(missing) = %v", err)
	}
}
