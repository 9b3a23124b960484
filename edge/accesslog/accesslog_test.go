package accesslog

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steer-gslb/steer/edge/tcpinfo"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func sampleEntry() Entry {
	return Entry{
		Time:             time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC),
		PoP:              "fra",
		RequestID:        "fra-5f2a9c",
		Method:           "GET",
		Host:             "www.example.com",
		Path:             "/a/b?token=secret&x=1",
		Status:           200,
		BytesOut:         1024,
		Duration:         1830 * time.Microsecond,
		Upstream:         "dc1",
		UpstreamDuration: 1410 * time.Microsecond,
		Proto:            "HTTP/2.0",
		TLSVersion:       tls.VersionTLS13,
		Client:           netip.MustParseAddr("203.0.113.77"),
		TCP: tcpinfo.Info{RTT: 12500 * time.Microsecond, RTTVar: 1200 * time.Microsecond, MinRTT: 11800 * time.Microsecond,
			TotalRetrans: 2, Cwnd: 10, DeliveryRate: 1250000},
		HasTCP: true,
	}
}

func TestAppendLine(t *testing.T) {
	e := sampleEntry()
	got := string(AppendLine(nil, &e))
	want := `{"ts":"2026-03-01T12:00:00.123456Z","pop":"fra","req":"fra-5f2a9c","method":"GET","host":"www.example.com","path":"/a/b","status":200,"bytes_in":0,"bytes_out":1024,"dur_us":1830,"upstream":"dc1","upstream_us":1410,"proto":"HTTP/2.0","tls":"1.3","client_net":"203.0.113.0/24","tcp_rtt_us":12500,"tcp_rttvar_us":1200,"tcp_min_rtt_us":11800,"tcp_retrans":0,"tcp_total_retrans":2,"tcp_cwnd":10,"tcp_delivery_rate":1250000}` + "\n"
	if got != want {
		t.Fatalf("line\n got %s\nwant %s", got, want)
	}
	r, err := ParseLine([]byte(got))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Time.Equal(e.Time.Truncate(time.Microsecond)) || r.PoP != "fra" || r.RequestID != e.RequestID || r.Status != 200 ||
		r.ClientNet != netip.MustParsePrefix("203.0.113.0/24") || !r.HasTCP || r.RTT != e.TCP.RTT || r.MinRTT != e.TCP.MinRTT ||
		r.RTTVar != e.TCP.RTTVar || r.Retrans != 2 || r.Cwnd != 10 || r.TLS != "1.3" || r.Duration != e.Duration {
		t.Errorf("parsed %+v", r)
	}
}

func TestClientNetwork(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"192.0.2.200", "192.0.2.0/24"},
		{"::ffff:192.0.2.200", "192.0.2.0/24"},
		{"2001:db8:1234:5678:9abc::1", "2001:db8:1234:5600::/56"},
		{"fe80::1%eth0", "fe80::/56"},
	} {
		if got := ClientNetwork(netip.MustParseAddr(c.in)); got.String() != c.want {
			t.Errorf("ClientNetwork(%s) = %s, want %s", c.in, got, c.want)
		}
	}
	if ClientNetwork(netip.Addr{}).IsValid() {
		t.Error("zero Addr gives a valid prefix")
	}
	e := Entry{Time: time.Unix(0, 0), PoP: "x"}
	if l := AppendLine(nil, &e); bytes.Contains(l, []byte("client_net")) {
		t.Errorf("no client: %s", l)
	}
}

func TestAppendLineEscapesAndLimits(t *testing.T) {
	e := Entry{Time: time.Unix(1, 0), PoP: "p\"o\\p", Host: "h\x00\n\u2028\xff", Path: strings.Repeat("é", 1000) + "#frag", Method: "GET"}
	l := AppendLine(nil, &e)
	var m map[string]any
	if err := json.Unmarshal(l, &m); err != nil {
		t.Fatalf("not JSON: %v: %s", err, l)
	}
	if m["pop"] != "p\"o\\p" || m["host"] != "h\x00\n\u2028\ufffd" {
		t.Errorf("escaping: %q %q", m["pop"], m["host"])
	}
	p := m["path"].(string)
	if len(p) > maxPath || strings.Contains(p, "#") || !strings.HasPrefix(p, "éé") || strings.ContainsRune(p, '\ufffd') {
		t.Errorf("path cut badly: %d bytes, %q…", len(p), p[len(p)-4:])
	}
}

func TestParseLineErrors(t *testing.T) {
	for _, c := range []struct{ line, want string }{
		{`{"pop":"fra"}`, "ts: missing"},
		{`{"ts":"yesterday","pop":"fra"}`, "ts: not an RFC 3339 time"},
		{`{"ts":"2026-03-01T12:00:00Z"}`, "pop: missing"},
		{`{"ts":"2026-03-01T12:00:00Z","pop":"fra","client_net":"203.0.113.77x"}`, "client_net: not an IP prefix"},
		{`{"ts":"2026-03-01T12:00:00Z","pop":"fra","tcp_rtt_us":-5}`, "negative"},
		{`{"ts":"2026-03-01T12:00:00Z","pop":"fra","tcp_rtt_us":"5"}`, "tcp_rtt_us: wrong JSON type"},
		{`{"ts":"2026-03-01T12:00:00Z","pop":"fra","dur_us":-1}`, "dur_us: negative"},
		{`{"ts":`, "JSON syntax"},
		{`[1]`, "wrong JSON type"},
	} {
		_, err := ParseLine([]byte(c.line))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseLine(%s) = %v, want an error with %q", c.line, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "203.0.113.77") {
			t.Errorf("error quotes a client address: %v", err)
		}
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// eventually polls cond every 10 ms until it holds or 10 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func TestWriterFlushesAndCloses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.ndjson")
	w, err := Open(path, Options{FlushEvery: 50 * time.Millisecond, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	e := sampleEntry()
	w.Write(&e)
	// The flusher writes the buffered line without any further call.
	eventually(t, "the line to reach the file", func() bool {
		b, _ := os.ReadFile(path)
		return bytes.Count(b, []byte{'\n'}) == 1
	})
	for range 99 {
		w.Write(&e)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w.Write(&e) // after Close: ignored
	if got := len(readLines(t, path)); got != 100 {
		t.Fatalf("%d lines after Close, want 100", got)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != FileMode {
		t.Errorf("mode %v, want %v", fi.Mode().Perm(), os.FileMode(FileMode))
	}
}

func TestWriterRotates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.ndjson")
	w, err := Open(path, Options{MaxBytes: 4 << 10, Keep: 2, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	e := sampleEntry()
	lineLen := len(AppendLine(nil, &e))
	n := 3 * (4 << 10) / lineLen // three files' worth
	for range n {
		w.Write(&e)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, p := range []string{path, path + ".1", path + ".2"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if fi.Size() > 4<<10+int64(lineLen) {
			t.Errorf("%s: %d bytes, over the limit", p, fi.Size())
		}
		total += len(readLines(t, p))
	}
	if _, err := os.Stat(path + ".3"); err == nil {
		t.Error("kept more than Keep rotated files")
	}
	if total == 0 || total > n {
		t.Errorf("%d lines in the files, wrote %d", total, n)
	}
}

func TestWriterFollowsMove(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.ndjson")
	w, err := Open(path, Options{FlushEvery: 20 * time.Millisecond, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Close() }()
	e := sampleEntry()
	w.Write(&e)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, path+".old"); err != nil { // logrotate's move
		t.Fatal(err)
	}
	eventually(t, "the writer to reopen the moved path", func() bool {
		_, err := os.Stat(path)
		return err == nil
	})
	w.Write(&e)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if a, b := len(readLines(t, path+".old")), len(readLines(t, path)); a != 1 || b != 1 {
		t.Errorf("lines: old %d new %d, want 1 and 1", a, b)
	}
	// Reopen (SIGHUP) after a second move.
	if err := os.Rename(path, path+".old2"); err != nil {
		t.Fatal(err)
	}
	if err := w.Reopen(); err != nil {
		t.Fatal(err)
	}
	w.Write(&e)
	_ = w.Flush()
	if got := len(readLines(t, path)); got != 1 {
		t.Errorf("%d lines after Reopen, want 1", got)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open("", Options{}); err == nil {
		t.Error("empty path: no error")
	}
	if _, err := Open(filepath.Join(t.TempDir(), "no", "such", "dir", "log"), Options{Log: quiet}); err == nil || !strings.Contains(err.Error(), "access log") {
		t.Errorf("missing directory: %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "log"), Options{MaxBytes: -1}); err == nil {
		t.Error("negative MaxBytes: no error")
	}
}

// TestNoClientAddressInLog writes entries for many client addresses and
// scans the file for any of them as text, and for any /32 or /128 (the
// repository's privacy rule: no raw client IP is ever written).
func TestNoClientAddressInLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.ndjson")
	w, err := Open(path, Options{Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	var addrs []netip.Addr
	for i := range 200 {
		addrs = append(addrs,
			netip.AddrFrom4([4]byte{198, 51, byte(i), byte(1 + i%254)}),
			netip.MustParseAddr(fmt.Sprintf("2001:db8:%x:%x::%x", i, 0x1234+i, 0xbeef+i)),
			netip.MustParseAddr(fmt.Sprintf("::ffff:203.0.%d.%d", i, 1+i%254)),
		)
	}
	for _, a := range addrs {
		e := sampleEntry()
		e.Client = a
		e.Path = "/p?ip=" + a.String() // a query string may carry anything: it is dropped
		w.Write(&e)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, a := range addrs {
		full := a.Unmap().String()
		if strings.Contains(text, `"`+full+`"`) || strings.Contains(text, full+"/") || strings.Contains(text, a.String()) {
			t.Fatalf("the log holds client address %s", a)
		}
		if raw := a.AsSlice(); bytes.Contains(b, raw) {
			t.Fatalf("the log holds client address %s as bytes", a)
		}
	}
	if strings.Contains(text, "/32") || strings.Contains(text, "/128") {
		t.Fatal("the log holds a /32 or /128")
	}
	lines := readLines(t, path)
	if len(lines) != len(addrs) {
		t.Fatalf("%d lines, want %d", len(lines), len(addrs))
	}
	for i, l := range lines {
		r, err := ParseLine([]byte(l))
		if err != nil {
			t.Fatal(err)
		}
		want := ClientNetwork(addrs[i])
		if r.ClientNet != want || (r.ClientNet.Addr().Is4() && r.ClientNet.Bits() != 24) || (r.ClientNet.Addr().Is6() && r.ClientNet.Bits() != 56) {
			t.Fatalf("line %d: client_net %s, want %s", i, r.ClientNet, want)
		}
	}
}

func BenchmarkWrite(b *testing.B) {
	w, err := Open(filepath.Join(b.TempDir(), "access.ndjson"), Options{Log: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = w.Close() }()
	e := sampleEntry()
	b.ReportAllocs()
	for b.Loop() {
		w.Write(&e)
	}
}

func BenchmarkWriteParallel(b *testing.B) {
	w, err := Open(filepath.Join(b.TempDir(), "access.ndjson"), Options{Log: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = w.Close() }()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		e := sampleEntry()
		for pb.Next() {
			w.Write(&e)
		}
	})
}

// BenchmarkAppendLine is the formatting alone (no lock, no file).
func BenchmarkAppendLine(b *testing.B) {
	e := sampleEntry()
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendLine(buf[:0], &e)
	}
}

// TestAppendTime: the hand-written timestamp is what time.AppendFormat
// writes, for any zone, the edges of the microsecond, and years outside
// four digits (which fall back to AppendFormat).
func TestAppendTime(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	for _, tt := range []time.Time{
		time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC),
		time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2027, 1, 1, 0, 30, 0, 1000, berlin), // UTC is still 2026
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 6, 1, 0, 0, 0, 0, time.UTC),
		{},
	} {
		want := tt.UTC().AppendFormat(nil, tsLayout)
		if got := appendTime([]byte("x"), tt); string(got) != "x"+string(want) {
			t.Errorf("appendTime(%v) = %q, want %q", tt, got[1:], want)
		}
	}
}

func FuzzAppendTime(f *testing.F) {
	f.Add(int64(1772366400), int64(123456789))
	f.Add(int64(-62135596800), int64(0))
	f.Add(int64(253402300799), int64(999999999))
	f.Fuzz(func(t *testing.T, sec, nsec int64) {
		tt := time.Unix(sec, nsec)
		if want, got := tt.UTC().AppendFormat(nil, tsLayout), appendTime(nil, tt); string(got) != string(want) {
			t.Fatalf("appendTime(%d, %d) = %q, want %q", sec, nsec, got, want)
		}
	})
}

func BenchmarkAppendTime(b *testing.B) {
	tt := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	buf := make([]byte, 0, 64)
	b.Run("hand", func(b *testing.B) {
		for b.Loop() {
			buf = appendTime(buf[:0], tt)
		}
	})
	b.Run("AppendFormat", func(b *testing.B) {
		for b.Loop() {
			buf = tt.UTC().AppendFormat(buf[:0], tsLayout)
		}
	})
}
