package steerapi

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/steer-gslb/steer/dnsserver"
	steerv1 "github.com/steer-gslb/steer/gen/steer/v1"
	"github.com/steer-gslb/steer/steertoken"
)

// TestResolveToken: with api_tokens, Resolve signs a token on request that
// verifies with the key set for the client's network and names the
// answer's PoP; another network's client is refused; without keys the call
// fails naming the fix; a bad key file refuses the config.
func TestResolveToken(t *testing.T) {
	s := newTestService(t, "up")
	path := writeTestConfig(t, "up", "api_tokens: {keys: keys.json, ttl: 5m}\n")
	// api_tokens needs listen.api.
	cfg, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(cfg), "listen:\n", "listen:\n  api: \"127.0.0.1:0\"\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	k, err := steertoken.GenerateKey(steertoken.Ed25519, "k1")
	if err != nil {
		t.Fatal(err)
	}
	ks, err := steertoken.NewKeySet([]steertoken.Key{k}, "k1")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(filepath.Dir(path), "keys.json")
	if err := os.WriteFile(keyFile, ks.Marshal(true), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := dnsserver.New(path, dnsserver.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ts := NewService(srv)

	ctx := context.Background()
	resp, err := ts.Resolve(ctx, connect.NewRequest(&steerv1.ResolveRequest{Ip: "203.0.113.9", WantToken: true}))
	if err != nil {
		t.Fatal(err)
	}
	r := resp.Msg
	if r.Token == nil || len(r.Pops) == 0 {
		t.Fatalf("no token: %v", r)
	}
	c, err := steertoken.Verify(ks, *r.Token, time.Now(), netip.MustParseAddr("203.0.113.77"))
	if err != nil || c.PoP != r.Pops[0].Label || c.Network != netip.MustParsePrefix("203.0.113.0/24") || c.Expires.Sub(c.IssuedAt) != 5*time.Minute {
		t.Errorf("token %q: %+v, %v; want PoP %s, network 203.0.113.0/24, 5m", *r.Token, c, err, r.Pops[0].Label)
	}
	if _, err := steertoken.Verify(ks, *r.Token, time.Now(), netip.MustParseAddr("198.51.100.1")); steertoken.ReasonOf(err) != steertoken.WrongNetwork {
		t.Errorf("another network's client: %v, want wrong network", err)
	}
	// Not asked: none.
	resp, err = ts.Resolve(ctx, connect.NewRequest(&steerv1.ResolveRequest{Ip: "203.0.113.9"}))
	if err != nil || resp.Msg.Token != nil {
		t.Errorf("without want_token: %v, %v", resp.Msg.GetToken(), err)
	}
	// A server without keys says what is missing.
	_, err = s.Resolve(ctx, connect.NewRequest(&steerv1.ResolveRequest{Ip: "203.0.113.9", WantToken: true}))
	if connect.CodeOf(err) != connect.CodeFailedPrecondition || !strings.Contains(err.Error(), "api_tokens") {
		t.Errorf("no keys: %v", err)
	}
	// A key file without a private key cannot sign: the config is refused.
	if err := os.WriteFile(keyFile, ks.Marshal(false), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := dnsserver.New(path, dnsserver.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}); err == nil || !strings.Contains(err.Error(), "api_tokens.keys") {
		t.Errorf("public keys only: %v", err)
	}
}
