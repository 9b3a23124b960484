package accesslog

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// FuzzParseLine: no panic; an error never quotes a client_net value.
func FuzzParseLine(f *testing.F) {
	e := sampleEntry()
	f.Add(AppendLine(nil, &e))
	for _, s := range []string{
		`{"pop":"fra"}`,
		`{"ts":"yesterday","pop":"fra"}`,
		`{"ts":"2026-03-01T12:00:00Z","pop":"fra","client_net":"203.0.113.77x"}`,
		`{"ts":"2026-03-01T12:00:00Z","pop":"fra","client_net":"203.0.113.77"}`,
		`{"ts":"2026-03-01T12:00:00Z","pop":"fra","tcp_rtt_us":-5}`,
		`{"ts":"2026-03-01T12:00:00Z","pop":"fra","tcp_rtt_us":"5"}`,
		`{"ts":`, `[1]`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseLine(b)
		if err != nil {
			var m struct {
				C string `json:"client_net"`
			}
			if json.Unmarshal(b, &m) == nil && len(m.C) >= 7 && strings.Contains(err.Error(), m.C) {
				t.Fatalf("error quotes client_net: %v", err)
			}
			return
		}
		if r.PoP == "" || r.Time.IsZero() || r.RTT < 0 {
			t.Fatalf("accepted %+v", r)
		}
	})
}

// FuzzAppendLine: any entry gives one valid JSON line that ParseLine
// reads back, with the client truncated.
func FuzzAppendLine(f *testing.F) {
	f.Add("fra", "fra-1", "GET", "www.example.com", "/a?b", "dc1", []byte{203, 0, 113, 77}, int64(12500))
	f.Add("p\"\\", "\x00\xff", "\u2028", "h\n", "#", "", []byte{0x20, 1, 0xd, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, int64(0))
	f.Fuzz(func(t *testing.T, pop, req, method, host, path, up string, ip []byte, rtt int64) {
		if pop == "" {
			pop = "x"
		}
		a, _ := netip.AddrFromSlice(ip)
		e := Entry{Time: time.Unix(1700000000, 0), PoP: pop, RequestID: req, Method: method, Host: host, Path: path, Upstream: up, Client: a,
			HasTCP: true}
		e.TCP.RTT = time.Duration(rtt&0xffffff) * time.Microsecond
		l := AppendLine(nil, &e)
		if n := strings.Count(string(l), "\n"); n != 1 || l[len(l)-1] != '\n' {
			t.Fatalf("%d newlines in %q", n, l)
		}
		if !json.Valid(l) {
			t.Fatalf("not JSON: %q", l)
		}
		r, err := ParseLine(l)
		if err != nil {
			t.Fatalf("%v: %q", err, l)
		}
		if r.ClientNet != ClientNetwork(a) {
			t.Fatalf("client_net %v, want %v", r.ClientNet, ClientNetwork(a))
		}
		if a.IsValid() && a.Unmap().Is4() && r.ClientNet.Bits() > 24 || r.ClientNet.Addr().Is6() && r.ClientNet.Bits() > 56 {
			t.Fatalf("client_net %v finer than /24 or /56", r.ClientNet)
		}
	})
}
