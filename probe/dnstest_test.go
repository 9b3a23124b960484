package probe

import (
	"bufio"
	"context"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/steer-gslb/steer/dnsserver"
	"github.com/steer-gslb/steer/examples"
	"github.com/steer-gslb/steer/rum"
)

// startSteer starts the example steer DNS server (which has the RUM
// record rum.example.net, logged to queries.ndjson) in-process on
// 127.0.0.1:0 and returns its DNS address and the query log's path.
func startSteer(t *testing.T) (netip.AddrPort, string) {
	t.Helper()
	dir := t.TempDir()
	if err := examples.WriteTo(dir); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "steer.yaml")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	text := string(cfg)
	for old, repl := range map[string]string{
		`dns: ["127.0.0.1:5353"]`:   `dns: ["127.0.0.1:0"]`,
		`admin: "127.0.0.1:9153"`:   `admin: "127.0.0.1:0"`,
		`udp_sockets: 0 `:           `udp_sockets: 1 `,
		`query_log: queries.ndjson`: `query_log: queries.ndjson`, // the test reads it
	} {
		if !strings.Contains(text, old) {
			t.Fatalf("the example config no longer has %q; update this test", old)
		}
		text = strings.Replace(text, old, repl, 1)
	}
	if err := os.WriteFile(cfgPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	// The server's log goes to the test's output (shown on failure or -v).
	srv, err := dnsserver.New(cfgPath, dnsserver.Options{Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatalf("dnsserver.New: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(srv.Close)
	return srv.Addrs()[0], filepath.Join(dir, "queries.ndjson")
}

// TestDNSTestAgainstSteer runs a round with the random-name test against a
// real steer DNS server and checks that the server's query log has the
// name the beacon carries, from 127.0.0.1.
func TestDNSTestAgainstSteer(t *testing.T) {
	addr, qlog := startSteer(t)
	fra := probeServer(t, "fra", 0)
	cfg := Config{
		Targets:    []Target{{"fra", fra.URL + Path}},
		RUMZone:    "RUM.example.net.", // canonicalised
		Resolver:   addr.String(),
		HTTPClient: fra.Client(),
		Kind:       rum.KindCLI,
	}
	r, err := MeasureRound(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r.DNSErr != nil {
		t.Fatalf("DNS test: %v", r.DNSErr)
	}
	b := checkBeacon(t, r.Beacon)
	if !regexp.MustCompile(`^[a-z0-9]{12}\.rum\.example\.net$`).MatchString(b.DNSTest) || b.DNSTest != r.DNSTest {
		t.Fatalf("dns_test = %q (round: %q), want <12 of [a-z0-9]>.rum.example.net", b.DNSTest, r.DNSTest)
	}

	// The server flushes its log at least every 100 ms: poll.
	want := b.DNSTest + "."
	deadline := time.Now().Add(10 * time.Second)
	for {
		entries := readQueryLog(t, qlog)
		var found []rum.LogEntry
		for _, e := range entries {
			if e.QName == want {
				found = append(found, e)
			}
		}
		if len(found) > 0 {
			if len(found) != 1 || found[0].QType != "A" || found[0].Resolver != netip.MustParseAddr("127.0.0.1") || found[0].ECS.IsValid() {
				t.Errorf("log entries for %s: %+v; want one A query from 127.0.0.1 without ECS", want, found)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the query log has no entry for %s after 10 s (%d entries)", want, len(entries))
		}
		tm := time.NewTimer(20 * time.Millisecond)
		<-tm.C
	}
}

func readQueryLog(t *testing.T, path string) []rum.LogEntry {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var out []rum.LogEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e rum.LogEntry
		if err := rum.ParseLogEntry(sc.Bytes(), &e); err != nil {
			// The writer may be mid-line; a complete line always parses.
			continue
		}
		out = append(out, e)
	}
	return out
}

// TestDNSTestResolverDown: a DNS test that fails is reported, and the
// beacon still has its samples and the name (it may have reached the
// authoritative server).
func TestDNSTestResolverDown(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := pc.LocalAddr().String()
	_ = pc.Close()
	fra := probeServer(t, "fra", 0)
	cfg := Config{
		Targets:    []Target{{"fra", fra.URL + Path}},
		RUMZone:    "rum.example.net",
		Resolver:   dead,
		Timeout:    2 * time.Second,
		HTTPClient: fra.Client(),
	}
	r, err := MeasureRound(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r.DNSErr == nil || !strings.Contains(r.DNSErr.Error(), "resolving "+r.DNSTest+" at "+dead) {
		t.Errorf("DNSErr = %v, want an error naming the name and resolver", r.DNSErr)
	}
	b := checkBeacon(t, r.Beacon)
	if b.DNSTest != r.DNSTest || len(b.Samples) != 1 {
		t.Errorf("beacon %+v", b)
	}
}
