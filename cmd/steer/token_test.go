package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// steerRun runs steer with args and returns its exit code, stdout and
// stderr.
func steerRun(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestTokenCommand: keygen → a key-set file → sign → verify (valid, and
// each rejection the CLI reports), the PoPs' public copy, and the errors.
func TestTokenCommand(t *testing.T) {
	dir := t.TempDir()
	var entries []json.RawMessage
	for _, k := range [][]string{{"ed25519", "k1"}, {"hmac", "h1"}} {
		code, out, errs := steerRun("token", "keygen", "--alg", k[0], "--id", k[1])
		if code != 0 || errs != "" {
			t.Fatalf("keygen %v: exit %d: %s", k, code, errs)
		}
		entries = append(entries, json.RawMessage(strings.TrimSpace(out)))
	}
	keys := filepath.Join(dir, "keys.json")
	b, _ := json.Marshal(map[string]any{"signing_key": "k1", "keys": entries})
	if err := os.WriteFile(keys, b, 0o600); err != nil {
		t.Fatal(err)
	}

	code, out, errs := steerRun("token", "sign", "--keys", keys, "--pop", "fra", "--network", "203.0.113.0/24", "--ttl", "1h")
	if code != 0 || errs != "" {
		t.Fatalf("sign: exit %d: %s", code, errs)
	}
	tok := strings.TrimSpace(out)
	if len(tok) != 114 {
		t.Errorf("Ed25519 token %q: %d characters, want 114", tok, len(tok))
	}
	code, out, _ = steerRun("token", "sign", "--keys", keys, "--pop", "ams", "--network", "2001:db8:10:ab12::9", "--key-id", "h1")
	if code != 0 {
		t.Fatalf("sign --key-id h1: exit %d", code)
	}
	hmacTok := strings.TrimSpace(out)

	// The PoPs' copy: no private key, verifies, cannot sign with k1.
	code, out, _ = steerRun("token", "public", "--keys", keys)
	if code != 0 || strings.Contains(out, "private") || !strings.Contains(out, `"secret"`) {
		t.Fatalf("public: exit %d:\n%s", code, out)
	}
	popKeys := filepath.Join(dir, "pop-keys.json")
	if err := os.WriteFile(popKeys, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}

	later := time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)
	earlier := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	tampered := []byte(tok)
	tampered[20] ^= 'A' ^ 'B' // a character of the PoP label or network
	if tampered[20] == tok[20] {
		t.Fatal("tamper did nothing")
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"valid", []string{"--keys", popKeys, "--addr", "203.0.113.9", tok}, 0, "valid: pop=fra network=203.0.113.0/24 key=k1 issued="},
		{"valid, no address", []string{"--keys", popKeys, tok}, 0, "valid: pop=fra"},
		{"valid hmac, IPv6 cut to /56", []string{"--keys", popKeys, "--addr", "2001:db8:10:abff::1", hmacTok}, 0, "valid: pop=ams network=2001:db8:10:ab00::/56 key=h1"},
		{"wrong network", []string{"--keys", popKeys, "--addr", "198.51.100.7", tok}, 1, "rejected: wrong network: client 198.51.100.0/24 is not in 203.0.113.0/24"},
		{"expired", []string{"--keys", popKeys, "--at", later, tok}, 1, "rejected: expired: expired at "},
		{"not yet valid", []string{"--keys", popKeys, "--at", earlier, tok}, 1, "rejected: not yet valid: issued at "},
		{"tampered", []string{"--keys", popKeys, string(tampered)}, 1, "rejected: "},
		{"truncated", []string{"--keys", popKeys, tok[:60]}, 1, "rejected: malformed: truncated"},
		{"garbage", []string{"--keys", popKeys, "hello, world"}, 1, "rejected: malformed: base64url: illegal character"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := steerRun(append([]string{"token", "verify"}, tc.args...)...)
			if code != tc.code || !strings.HasPrefix(out, tc.want) || errs != "" {
				t.Errorf("verify: exit %d, stdout %q, stderr %q; want exit %d and %q", code, out, errs, tc.code, tc.want)
			}
		})
	}
	// A tampered label or network byte is a bad signature (or a malformed
	// label), never accepted: checked in steertoken's TestTamper; here the
	// CLI's unknown key: a key set without k1.
	onlyH := filepath.Join(dir, "only-h.json")
	b, _ = json.Marshal(map[string]any{"keys": entries[1:]})
	if err := os.WriteFile(onlyH, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := steerRun("token", "verify", "--keys", onlyH, tok); code != 1 || out != "rejected: unknown key id: key id \"k1\"\n" {
		t.Errorf("verify with k1 rotated out: exit %d, %q", code, out)
	}

	// Errors: exit 1 naming the problem, or 2 for usage.
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"keys":[{"id":"k1","alg":"ed25519","public":"AAAA"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"sign", "--keys", popKeys, "--key-id", "k1", "--pop", "fra", "--network", "203.0.113.0/24"}, 1, `steer token sign: steertoken: sign: key "k1" has no private key`},
		{[]string{"sign", "--keys", keys, "--pop", "fra", "--network", "203.0.113.7/32"}, 1, "longer than /24 (privacy"},
		{[]string{"sign", "--keys", keys, "--pop", "FRA", "--network", "203.0.113.0/24"}, 1, `bad PoP label "FRA"`},
		{[]string{"sign", "--keys", bad, "--pop", "fra", "--network", "203.0.113.0/24"}, 1, `bad.json: keys[0] ("k1").public: 3 bytes, want 32`},
		{[]string{"verify", "--keys", bad, tok}, 1, `keys[0] ("k1").public`},
		{[]string{"sign", "--keys", keys, "--pop", "fra"}, 2, "--keys, --pop and --network are required"},
		{[]string{"sign", "--keys", keys, "--pop", "fra", "--network", "nope"}, 2, `--network: "nope" is neither a CIDR nor an address`},
		{[]string{"sign", "--keys", keys, "--pop", "fra", "--network", "203.0.113.0/24", "--ttl", "0s"}, 2, "--ttl 0s: want at least 1s"},
		{[]string{"verify", "--keys", keys}, 2, "one TOKEN is required"},
		{[]string{"verify", "--keys", keys, "--addr", "nope", tok}, 2, `--addr: bad address "nope"`},
		{[]string{"verify", "--keys", keys, "--at", "tomorrow", tok}, 2, `--at: "tomorrow" is not an RFC 3339 time`},
		{[]string{"keygen", "--alg", "rsa", "--id", "k"}, 2, `unknown algorithm "rsa"`},
		{[]string{"keygen", "--alg", "ed25519"}, 2, "--id is required"},
		{[]string{"keygen", "--id", "bad id"}, 2, `bad key id "bad id"`},
		{[]string{"public"}, 2, "--keys is required"},
	} {
		code, out, errs := steerRun(append([]string{"token"}, tc.args...)...)
		if code != tc.code || !strings.Contains(errs, tc.want) || out != "" {
			t.Errorf("steer token %s: exit %d, stdout %q, stderr %q; want exit %d and %q", strings.Join(tc.args, " "), code, out, errs, tc.code, tc.want)
		}
	}
}
