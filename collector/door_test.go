package collector

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

var bearerCases = []struct {
	in, token string
	ok        bool
}{
	{"Bearer abc", "abc", true},
	{"bearer abc", "abc", true}, // RFC 7235: the scheme is case-insensitive
	{"BEARER abc", "abc", true},
	{"bEaReR   abc  ", "abc", true},
	{"  Bearer abc", "abc", true},
	{"Bearer", "", false},
	{"Bearer ", "", false},
	{"Bearerabc", "", false},
	{"Basic abc", "", false},
	{"Bearer\tabc", "", false}, // the separator is a space (1*SP)
	{"", "", false},
}

func TestBearerToken(t *testing.T) {
	for _, c := range bearerCases {
		tok, ok := bearerToken(c.in)
		if tok != c.token || ok != c.ok {
			t.Errorf("bearerToken(%q) = %q, %v; want %q, %v", c.in, tok, ok, c.token, c.ok)
		}
	}
	// on the wire: a lower-case scheme is an agent's token like any other
	f := newFixture(t, nil)
	for _, scheme := range []string{"bearer", "BEARER", "Bearer"} {
		w := f.do(t, req{body: desktopBeacon("2026-11-21T10:00:00.123Z", float64(len(scheme))+float64(scheme[1])),
			header: map[string]string{"Authorization": scheme + " " + token}})
		if w.Code != 200 {
			t.Errorf("%s: %d %s", scheme, w.Code, w.Body.String())
		}
	}
}

func FuzzBearerToken(f *testing.F) {
	for _, c := range bearerCases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, h string) {
		tok, ok := bearerToken(h)
		if ok != (tok != "") || strings.TrimSpace(tok) != tok {
			t.Fatalf("bearerToken(%q) = %q, %v", h, tok, ok)
		}
		if ok && !strings.Contains(h, tok) {
			t.Fatalf("bearerToken(%q) = %q: not from the header", h, tok)
		}
	})
}

// TestDoorSampleWindow: samples dated outside the window around the
// collector's clock, or with an RTT no network has, are refused with their
// beacon (400, naming the sample), counted by reason; a limit of 0 is off.
func TestDoorSampleWindow(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	ts := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339Nano) }
	for _, c := range []struct {
		name   string
		body   string
		code   int
		reason string
		want   string
	}{
		{"now", desktopBeacon(ts(0), 20), 200, "", `{"accepted":1}`},
		{"6 days old", desktopBeacon(ts(-6*24*time.Hour), 20), 200, "", `{"accepted":1}`},
		{"4 minutes ahead", desktopBeacon(ts(4*time.Minute), 20), 200, "", `{"accepted":1}`},
		{"1971", desktopBeacon("1971-01-01T00:00:00Z", 20), 400, "too-old", "samples[0].ts: 1971-01-01T00:00:00Z is more than 168h0m0s before the collector's clock"},
		{"8 days old", desktopBeacon(ts(-8*24*time.Hour), 20), 400, "too-old", "max_sample_age"},
		{"2099", desktopBeacon("2099-01-01T00:00:00Z", 20), 400, "future", "samples[0].ts: 2099-01-01T00:00:00Z is more than 5m0s ahead of the collector's clock"},
		{"6 minutes ahead", desktopBeacon(ts(6*time.Minute), 20), 400, "future", "max_sample_ahead"},
		{"1e9 ms", desktopBeacon(ts(0), 1e9), 400, "rtt", "samples[0].rtt_ms: 1e+09 is over the limit of 60000 ms"},
		{"60000 ms", desktopBeacon(ts(0), 60000), 200, "", `{"accepted":1}`},
		{"60000.5 ms", desktopBeacon(ts(0), 60000.5), 400, "rtt", "max_rtt_ms"},
		{"second sample", strings.Replace(webBeacon(ts(0), 20), `"rtt_ms":31`, `"rtt_ms":1e7`, 1), 400, "rtt", "samples[1].rtt_ms"},
		{"batch line", desktopBeacon(ts(0), 21) + "\n" + desktopBeacon("2099-01-01T00:00:00Z", 20), 400, "future", "line 2: beacon: samples[0].ts"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.now = now
			h := map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/x-ndjson", "Origin": origin}
			w := f.do(t, req{body: c.body, header: h})
			if w.Code != c.code || !strings.Contains(w.Body.String(), c.want) {
				t.Errorf("%d %q, want %d %q", w.Code, w.Body.String(), c.code, c.want)
			}
			if c.reason != "" {
				if n := testutil.ToFloat64(f.srv.m.rejected.WithLabelValues(c.reason)); n != 1 {
					t.Errorf("rejected{reason=%q} %v", c.reason, n)
				}
				if n := len(f.samples(t)); n != 0 {
					t.Errorf("a refused beacon stored %d samples", n)
				}
			}
		})
	}
	// limits of 0 are off
	f := newFixture(t, func(c *Config) { c.MaxSampleAge, c.MaxSampleAhead, c.MaxRTTms = 0, 0, 0 })
	for i, b := range []string{desktopBeacon("1971-01-01T00:00:00Z", 1), desktopBeacon("2099-01-01T00:00:00Z", 2), desktopBeacon(ts(0), 1e9)} {
		if w := f.do(t, req{body: b, header: auth}); w.Code != 200 {
			t.Errorf("%d with the checks off: %d %s", i, w.Code, w.Body.String())
		}
	}
}

// TestDoorNonGlobalAddress: an address in a trusted proxy's header that
// cannot be a client's on the Internet is refused (400 naming its kind,
// counted by reason), never stored as a client network; global ones are
// taken. The connection's own address is not judged (a loopback agent).
func TestDoorNonGlobalAddress(t *testing.T) {
	f := newFixture(t, nil)
	for i, c := range []struct{ xff, kind string }{
		{"fe80::1%eth0", "zoned"},
		{"[fe80::1%eth0]:443", "zoned"},
		{"fe80::1", "link-local"},
		{"169.254.10.1", "link-local"},
		{"127.0.0.1", "loopback"},
		{"::1", "loopback"},
		{"10.1.2.3", "private"},
		{"172.16.5.4", "private"},
		{"192.168.1.1", "private"},
		{"fd12:3456::1", "private"},
		{"::ffff:192.168.1.1", "private"},
		{"224.0.0.1", "multicast"},
		{"ff02::1", "multicast"},
		{"0.0.0.0", "unspecified"},
		{"::", "unspecified"},
		{"192.0.2.1", "documentation"},
		{"198.51.100.7", "documentation"},
		{"203.0.113.9", "documentation"},
		{"2001:db8::1", "documentation"},
		{"3fff::1", "documentation"},
		{"100.64.3.4", "shared"},
		{"198.18.0.1", "benchmarking"},
		{"2001:2::1", "benchmarking"},
		{"240.0.0.1", "reserved"},
		{"255.255.255.255", "reserved"},
		{"0.1.2.3", "reserved"},
		{"64:ff9b::102:304", "reserved"},
		{"fec0::1", "reserved"},
		{"81.2.69.1, 10.9.9.9", ""}, // the rightmost untrusted is global
		{"2a01:4f8::1", ""},
		{"::ffff:81.2.69.1", ""},
	} {
		h := map[string]string{"Authorization": "Bearer " + token, "X-Forwarded-For": c.xff}
		w := f.do(t, req{body: desktopBeacon("2026-11-21T10:00:00.123Z", float64(i)), header: h, remote: "10.0.0.1:1"})
		if c.kind == "" {
			if w.Code != 200 {
				t.Errorf("%s: %d %s", c.xff, w.Code, w.Body.String())
			}
			continue
		}
		want := fmt.Sprintf("X-Forwarded-For: element 1 is not a global address (%s)", c.kind)
		if w.Code != 400 || !strings.Contains(w.Body.String(), want) {
			t.Errorf("%s: %d %q, want 400 %q", c.xff, w.Code, w.Body.String(), want)
		}
		if strings.Contains(w.Body.String(), strings.Trim(strings.Split(c.xff, "%")[0], "[]")) {
			t.Errorf("%s: the answer repeats the address: %q", c.xff, w.Body.String())
		}
	}
	if n := testutil.ToFloat64(f.srv.m.rejected.WithLabelValues("address-private")); n != 5 {
		t.Errorf("rejected{reason=address-private} %v, want 5", n)
	}
	for _, r := range f.samples(t) {
		if nonGlobal(r.Network.Addr()) != "" {
			t.Errorf("stored the non-global network %v", r.Network)
		}
	}
	if n := len(f.samples(t)); n != 3 {
		t.Errorf("%d samples stored, want 3", n)
	}
	// a loopback peer that is not a trusted proxy is its own client
	if w := f.do(t, req{body: desktopBeacon("2026-11-21T10:00:00.123Z", 99), header: auth, remote: "127.0.0.1:9"}); w.Code != 200 {
		t.Errorf("loopback peer: %d %s", w.Code, w.Body.String())
	}
}

func TestNonGlobal(t *testing.T) {
	for a, want := range map[string]string{
		"8.8.8.8": "", "1.1.1.1": "", "2606:4700::1111": "", "100.63.255.255": "", "100.128.0.0": "",
		"198.17.255.255": "", "198.20.0.0": "", "223.255.255.255": "", "2001:db9::1": "", "2001:3::1": "",
		"100.64.0.0": "shared", "100.127.255.255": "shared", "192.0.0.8": "reserved", "::ffff:0:0": "unspecified",
	} {
		if got := nonGlobal(netip.MustParseAddr(a).Unmap()); got != want {
			t.Errorf("nonGlobal(%s) = %q, want %q", a, got, want)
		}
	}
}

// TestRateLimitDefaults: the rate limit is on by default (10/s, bursts of
// 100 per network); a batch larger than the burst can never pass and gets
// 413 saying so, not 429 for ever; a refused request is told when to
// come back.
func TestRateLimitDefaults(t *testing.T) {
	d := Defaults()
	if d.Rate != 10 || d.Burst != 100 {
		t.Errorf("default rate %v, burst %d; want 10, 100", d.Rate, d.Burst)
	}
	if c, err := ParseConfig(nil); err != nil || c.Rate != 10 || c.Burst != 100 {
		t.Errorf("empty config: %+v, %v", c, err)
	}
	f := newFixture(t, func(c *Config) { c.Rate, c.Burst = d.Rate, d.Burst; c.MaxBody = 1 << 20 })
	batch := func(from, n int) string {
		var sb strings.Builder
		for i := range n {
			sb.WriteString(desktopBeacon("2026-11-21T10:00:00.123Z", float64(from+i)) + "\n")
		}
		return sb.String()
	}
	nd := map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/x-ndjson"}
	w := f.do(t, req{body: batch(0, 101), header: nd})
	if w.Code != 413 || !strings.Contains(w.Body.String(), "a batch of 101 beacons can never pass the rate limit (burst 100): send at most 100 per request") {
		t.Errorf("101 at once: %d %q", w.Code, w.Body.String())
	}
	if w := f.do(t, req{body: batch(0, 95), header: nd}); w.Code != 200 {
		t.Fatalf("95 at once: %d %s", w.Code, w.Body.String())
	}
	w = f.do(t, req{body: batch(100, 10), header: nd})
	// 5 tokens left, 10 wanted: 0.5 s at 10/s
	if w.Code != 429 || w.Header().Get("Retry-After") != "1" {
		t.Errorf("over the rate: %d Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	f.now = f.now.Add(time.Second)
	if w := f.do(t, req{body: batch(100, 10), header: nd}); w.Code != 200 {
		t.Errorf("a second later: %d %s", w.Code, w.Body.String())
	}
	if n := testutil.ToFloat64(f.srv.m.rejected.WithLabelValues("batch")); n != 1 {
		t.Errorf("rejected{reason=batch} %v", n)
	}
}

// TestAdminEndpoints: with an admin listener, /metrics and /querylog are
// only there (404 on the public listener); without one, /querylog stays
// public and /metrics answers loopback peers only, not one forwarding a
// request through a local proxy.
func TestAdminEndpoints(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Admin = "127.0.0.1:0"; c.QueryLogTokens = []string{logToken} })
	for _, p := range []string{"/metrics", "/querylog"} {
		w := f.do(t, req{method: http.MethodGet, path: p, remote: "127.0.0.1:1"})
		if w.Code != 404 || !strings.Contains(w.Body.String(), p+" is served on the admin listener") {
			t.Errorf("public %s: %d %q", p, w.Code, w.Body.String())
		}
	}
	admin := func(method, path string, h map[string]string, body string) (int, string) {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.RemoteAddr = "198.51.100.9:1"
		for k, v := range h {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		f.srv.AdminHandler().ServeHTTP(w, r)
		return w.Code, w.Body.String()
	}
	if code, body := admin(http.MethodGet, "/metrics", nil, ""); code != 200 || !strings.Contains(body, "steer_collector_spool_backlog_bytes") {
		t.Errorf("admin /metrics: %d", code)
	}
	if code, body := admin(http.MethodPost, "/querylog", map[string]string{"Authorization": "Bearer " + logToken}, queryLine(1, "")); code != 200 {
		t.Errorf("admin /querylog: %d %s", code, body)
	}
	if code, body := admin(http.MethodGet, "/healthz", nil, ""); code != 200 || body != "ok\n" {
		t.Errorf("admin /healthz: %d %q", code, body)
	}
	if w := f.do(t, req{method: http.MethodGet, path: "/healthz"}); w.Code != 200 {
		t.Errorf("public /healthz: %d", w.Code)
	}

	g := newFixture(t, nil)
	for _, c := range []struct {
		remote string
		hdr    map[string]string
		code   int
	}{
		{"127.0.0.1:1", nil, 200},
		{"[::1]:1", nil, 200},
		{"198.51.100.9:1", nil, 404},
		{"127.0.0.1:1", map[string]string{"X-Forwarded-For": "81.2.69.1"}, 404},
		{"127.0.0.1:1", map[string]string{"Forwarded": "for=81.2.69.1"}, 404},
	} {
		if w := g.do(t, req{method: http.MethodGet, path: "/metrics", remote: c.remote, header: c.hdr}); w.Code != c.code {
			t.Errorf("/metrics from %s %v: %d, want %d", c.remote, c.hdr, w.Code, c.code)
		}
	}
}
