package duckstore

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/steer-gslb/steer/rum"

	"github.com/steer-gslb/steer/store"
)

var sniffCases = []struct {
	name, line string
	want       Format
	err        string
}{
	{"beacon", `{"v":1,"client_subnet":"203.0.113.0/24","agent":{"kind":"web"},"samples":[]}`, FormatBeacons, ""},
	{"beacon, samples only", `{"samples":[{"ts":"x"}]}`, FormatBeacons, ""},
	{"beacon with unknown keys", `{"extra":{"qname":1},"agent":{}}`, FormatBeacons, ""},
	{"log", `{"ts":"2026-11-21T10:00:00.101Z","qname":"a.rum.example.net.","qtype":"A","resolver":"198.51.100.7","source":"ecs"}`, FormatDNSLog, ""},
	{"log, qname only", ` {"qname":"x."} `, FormatDNSLog, ""},
	{"both", `{"v":1,"qname":"x."}`, FormatUnknown, "both"},
	{"edge", `{"ts":"2026-03-01T12:00:00.123456Z","pop":"fra","req":"fra-1","status":200,"client_net":"203.0.113.0/24","tcp_rtt_us":12500}`, FormatEdgeLog, ""},
	{"edge, tcp only", `{"tcp_rtt_us":1}`, FormatEdgeLog, ""},
	{"ts and pop only", `{"ts":"x","pop":"fra"}`, FormatDNSLog, ""},
	{"edge and beacon", `{"req":"x","agent":{}}`, FormatUnknown, "edge access-log line and a beacon"},
	{"edge and log", `{"client_net":"x","qname":"x."}`, FormatUnknown, "edge access-log line and a beacon or DNS"},
	{"neither", `{"x":1}`, FormatUnknown, "no key"},
	{"empty object", `{}`, FormatUnknown, "no key"},
	{"array", `[{"v":1}]`, FormatUnknown, "not a JSON object"},
	{"garbage", `v=1`, FormatUnknown, "not a JSON object"},
	{"cut", `{"v":1,"agent":{"kind`, FormatUnknown, "not a JSON object"},
	{"empty", ``, FormatUnknown, "not a JSON object"},
}

func TestSniff(t *testing.T) {
	for _, tc := range sniffCases {
		got, err := Sniff([]byte(tc.line))
		if got != tc.want || (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: Sniff(%s) = %v, %v; want %v, error containing %q", tc.name, tc.line, got, err, tc.want, tc.err)
		}
	}
}

// FuzzSniff checks Sniff against encoding/json: whenever the input is one
// valid JSON object, Sniff decides from its keys as the reference does.
func FuzzSniff(f *testing.F) {
	for _, tc := range sniffCases {
		f.Add([]byte(tc.line))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		got, err := Sniff(line)
		if (got == FormatUnknown) != (err != nil) {
			t.Fatalf("Sniff(%q) = %v, %v", line, got, err)
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(line, &m) != nil || m == nil {
			return
		}
		var beacon, log, edge, shared bool
		for k := range m {
			switch {
			case slices.Contains([]string{"v", "client_subnet", "agent", "dns_test", "samples"}, k):
				beacon = true
			case slices.Contains([]string{"qname", "qtype", "resolver", "ecs", "source"}, k):
				log = true
			case k == "ts" || k == "pop":
				shared = true
			case slices.Contains([]string{"req", "client_net", "status", "method", "path", "dur_us", "upstream_us"}, k),
				strings.HasPrefix(k, "tcp_") && slices.Contains([]string{"rtt_us", "rttvar_us", "min_rtt_us", "retrans", "total_retrans", "cwnd", "delivery_rate"}, k[4:]):
				edge = true
			}
		}
		want := FormatUnknown
		switch n := btoi(beacon) + btoi(log || shared) + btoi(edge); {
		case beacon && n == 1:
			want = FormatBeacons
		case edge && !beacon && !log:
			want = FormatEdgeLog
		case (log || shared) && n == 1:
			want = FormatDNSLog
		}
		if got != want {
			t.Fatalf("Sniff(%q) = %v, want %v", line, got, want)
		}
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// chunkLines reads data through a chunker with buffers of size bytes and
// returns line number → line (without its ending) for the lines it gives,
// and the numbers of the lines it reports too long.
func chunkLines(t testing.TB, data []byte, size int) (map[int]string, []int) {
	ch := &chunker{r: bytes.NewReader(data), size: size}
	lines := map[int]string{}
	var long []int
	for {
		c, err := ch.next()
		if err != nil {
			t.Fatal(err)
		}
		if c == nil {
			return lines, long
		}
		if c.tooLong > 0 {
			long = append(long, c.tooLong)
		}
		n := c.firstLine
		for _, l := range bytes.SplitAfter(c.data, []byte{'\n'}) {
			if len(l) == 0 {
				continue
			}
			lines[n] = strings.TrimSuffix(string(l), "\n")
			n++
		}
		ch.release(c)
	}
}

// refLines is the obviously correct split: line number → line.
func refLines(data []byte) map[int]string {
	m := map[int]string{}
	if len(data) == 0 {
		return m
	}
	for i, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		m[i+1] = l
	}
	return m
}

func TestChunkerLineNumbers(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{64, 97, 1000, 1 << 16} {
		for trial := range 20 {
			var b bytes.Buffer
			for i := range 200 {
				n := r.IntN(60)
				if trial%3 == 0 {
					n = r.IntN(5)
				}
				b.WriteString(strings.Repeat(string(rune('a'+i%26)), n))
				if r.IntN(10) == 0 {
					b.WriteByte('\r')
				}
				b.WriteByte('\n')
			}
			if trial%2 == 1 {
				b.WriteString("last line without newline")
			}
			got, long := chunkLines(t, b.Bytes(), size)
			if len(long) > 0 {
				t.Fatalf("size %d: lines %v reported too long", size, long)
			}
			if want := refLines(b.Bytes()); !mapsEqual(got, want) {
				t.Fatalf("size %d trial %d: chunker lines differ from the reference", size, trial)
			}
		}
	}
}

func mapsEqual(a, b map[int]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestChunkerTooLongLines(t *testing.T) {
	for _, tc := range []struct {
		name string
		data string
		size int
		long []int
		want map[int]string
	}{
		{"two", "short\n" + strings.Repeat("x", 300) + "\nafter\n" + strings.Repeat("y", 200) + "\n\nend", 64,
			[]int{2, 4}, map[int]string{1: "short", 3: "after", 5: "", 6: "end"}},
		{"at the end", "a\n" + strings.Repeat("x", 100), 64, []int{2}, map[int]string{1: "a"}},
		// FuzzChunker found: a newline alone after a skipped line was
		// taken for another line too long.
		{"fuzz 8c791c70095f1941", "0\n", 1, []int{1}, map[int]string{}},
		{"short after long", strings.Repeat("x", 70) + "\nab\ncd", 64, []int{1}, map[int]string{2: "ab", 3: "cd"}},
	} {
		got, long := chunkLines(t, []byte(tc.data), tc.size)
		if !slices.Equal(long, tc.long) || !mapsEqual(got, tc.want) {
			t.Errorf("%s: too long %v, lines %v; want %v, %v", tc.name, long, got, tc.long, tc.want)
		}
	}
}

// FuzzChunker: every line shorter than the buffer comes out with its
// number, and every longer one is reported with its number.
func FuzzChunker(f *testing.F) {
	f.Add([]byte("a\nbb\n\nccc"), 4)
	f.Add([]byte("0123456789\n0\n"), 8)
	f.Add([]byte("\n\n\n"), 1)
	f.Fuzz(func(t *testing.T, data []byte, size int) {
		if size < 1 || size > 1<<12 {
			return
		}
		got, long := chunkLines(t, data, size)
		want := refLines(data)
		for n := range got {
			if _, ok := want[n]; !ok || slices.Contains(long, n) {
				t.Fatalf("line %d came out, but the input has no line %d or it was reported too long", n, n)
			}
		}
		for _, n := range long {
			if l, ok := want[n]; !ok || len(l)+1 <= size {
				t.Fatalf("line %d (%d bytes) reported too long with buffers of %d", n, len(l), size)
			}
			delete(want, n)
		}
		// A line that fits only without its newline may be cut; lines
		// that fit with it must come out whole.
		for n, l := range want {
			if len(l)+1 >= size {
				delete(want, n)
				delete(got, n)
			}
		}
		for n, l := range want {
			if got[n] != l {
				t.Fatalf("line %d = %q, want %q", n, got[n], l)
			}
		}
	})
}

// beaconLine is the NDJSON line of b with client_subnet written as sub.
func beaconLine(b *rum.Beacon, sub string) string {
	c := *b
	c.ClientSubnet = netip.Prefix{}
	line := string(rum.AppendBeacon(nil, &c))
	if sub == "" {
		return line
	}
	return `{"v":1,"client_subnet":"` + sub + `",` + strings.TrimPrefix(line, `{"v":1,`)
}

func gzipBytes(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestImportBeacons(t *testing.T) {
	s := openTest(t, t.TempDir())
	bs := genBeacons(1, 20, 5, time.Time{})
	var lines []string
	add := func(l string) int { lines = append(lines, l); return len(lines) }
	for i := range 12 {
		add(beaconLine(&bs[i].Beacon, bs[i].ClientSubnet.String()))
	}
	add("")
	add("   \t")
	crlf := add(beaconLine(&bs[12].Beacon, bs[12].ClientSubnet.String()) + "\r")
	host := add(beaconLine(&bs[13].Beacon, "198.51.100.77/32"))
	bare := add(beaconLine(&bs[14].Beacon, "198.51.101.78"))
	hostBits := add(beaconLine(&bs[15].Beacon, "198.51.102.79/24"))
	v6host := add(beaconLine(&bs[16].Beacon, "2001:db8:77:88:99::1"))
	unknown := add(strings.Replace(beaconLine(&bs[17].Beacon, bs[17].ClientSubnet.String()), `"agent":{`, `"extra":[1,{"a":null}],"agent":{"new":"x",`, 1))
	dup := add(beaconLine(&bs[0].Beacon, bs[0].ClientSubnet.String()))
	badJSON := add(`{"v":1 "client_subnet":"10.0.0.0/24","agent":{"kind":"web"},"samples":[]}`)
	badRTT := add(strings.Replace(beaconLine(&bs[18].Beacon, bs[18].ClientSubnet.String()), `"rtt_ms":`, `"rtt_ms":"fast","x":`, 1))
	noSubnet := add(beaconLine(&bs[19].Beacon, ""))
	badSubnet := add(beaconLine(&bs[19].Beacon, "198.51.103.80/not"))
	add(beaconLine(&bs[19].Beacon, bs[19].ClientSubnet.String())) // last, no newline
	data := strings.Join(lines, "\n")

	for _, gz := range []bool{false, true} {
		in := []byte(data)
		if gz {
			in = gzipBytes(t, in)
		}
		st, err := Import(ctx, s, bytes.NewReader(in), ImportOptions{Workers: 2, MaxLineErrors: 3})
		if err != nil {
			t.Fatal(err)
		}
		if st.Format != FormatBeacons || st.Gzip != gz {
			t.Errorf("format %v gzip %v, want beacons, %v", st.Format, st.Gzip, gz)
		}
		if st.Lines != len(lines)-2 {
			t.Errorf("%d lines, want %d (blank ones skipped)", st.Lines, len(lines)-2)
		}
		wantRejected := map[string]int{"JSON syntax": 1, "samples[].rtt_ms": 1, "client_subnet": 2}
		if !maps(st.Rejected, wantRejected) {
			t.Errorf("rejected %v, want %v", st.Rejected, wantRejected)
		}
		wantLines := []int{badJSON, badRTT, noSubnet}
		var gotLines []int
		for _, e := range st.LineErrors {
			gotLines = append(gotLines, e.Line)
		}
		if !slices.Equal(gotLines, wantLines) {
			t.Errorf("line errors on lines %v, want the first 3 of %v", st.LineErrors, []int{badJSON, badRTT, noSubnet, badSubnet})
		}
		if len(st.LineErrors) == 3 && (!strings.Contains(st.LineErrors[1].Err, "samples[0].rtt_ms") || !strings.Contains(st.LineErrors[2].Err, "client_subnet: required")) {
			t.Errorf("line errors %v: want samples[0].rtt_ms and client_subnet: required", st.LineErrors)
		}
		if st.Unknown != 2 || st.Truncated != 4 {
			t.Errorf("%d unknown fields, %d truncated; want 2, 4", st.Unknown, st.Truncated)
		}
		if !gz {
			// 20 beacons: 0..17, 19 and the repeat of 0; 18 is rejected.
			if st.Beacons != 19 || st.Duplicates != 1 || st.Samples != 95 {
				t.Errorf("%d beacons, %d duplicates, %d samples; want 19, 1, 95", st.Beacons, st.Duplicates, st.Samples)
			}
		} else if st.Beacons != 0 || st.Duplicates != 20 || st.Samples != 0 {
			t.Errorf("the same file again, gzipped: %d beacons, %d duplicates, %d samples; want 0, 20, 0", st.Beacons, st.Duplicates, st.Samples)
		}
	}
	_ = crlf
	_ = unknown
	_ = dup
	nets := map[netip.Prefix]bool{}
	for _, r := range scanAll(t, s) {
		nets[r.Network] = true
		if r.Received.IsZero() {
			t.Fatal("a beacon without a Received time")
		}
	}
	for _, want := range []string{"198.51.100.0/24", "198.51.101.0/24", "198.51.102.0/24", "2001:db8:77::/56"} {
		if !nets[netip.MustParsePrefix(want)] {
			t.Errorf("no samples from %s (truncated at the door)", want)
		}
	}
	_, _, _, _ = host, bare, hostBits, v6host
}

func maps(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestImportDNSLog(t *testing.T) {
	s := openTest(t, t.TempDir())
	var b bytes.Buffer
	qs := genQueries(30)
	for i := range qs {
		b.Write(rum.AppendLogEntry(nil, &qs[i]))
		b.WriteByte('\n')
	}
	b.WriteString(`{"ts":"2026-11-21T10:00:00.101Z","qname":"a.rum.example.net.","qtype":"A","resolver":"198.51.100.7","ecs":"203.0.113.99/32","source":"ecs"}` + "\n")
	b.WriteString(`{"ts":"2026-11-21T10:00:00.101Z","qname":"a.rum.example.net.","qtype":"A","resolver":"198.51.100.7","source":"ecs","extra":1}` + "\n")
	b.WriteString(`{"ts":"2026-11-21T10:00:00.101Z","qname":"a.rum.example.net.","qtype":"A","resolver":"198.51.100.7","source":"ecs","ecs":"nonsense"}` + "\n")
	st, err := Import(ctx, s, bytes.NewReader(gzipBytes(t, b.Bytes())), ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Format != FormatDNSLog || !st.Gzip || st.Lines != 33 || st.Queries != 31 || st.Truncated != 1 {
		t.Errorf("stats %+v: want a gzipped DNS log, 33 lines, 31 queries, 1 truncated", st)
	}
	if want := map[string]int{"object": 1, "ecs": 1}; !maps(st.Rejected, want) {
		t.Errorf("rejected %v, want %v", st.Rejected, want)
	}
	if len(st.LineErrors) != 2 || st.LineErrors[0].Line != 32 || !strings.Contains(st.LineErrors[0].Err, `unknown field "extra"`) || st.LineErrors[1].Line != 33 {
		t.Errorf("line errors %v, want lines 32 (unknown field) and 33", st.LineErrors)
	}
	var ecs []netip.Prefix
	if err := s.ScanQueries(ctx, func(e *rum.LogEntry) error {
		ecs = append(ecs, e.ECS)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(ecs) != 31 || ecs[30] != netip.MustParsePrefix("203.0.113.0/24") {
		t.Errorf("stored ECS of the /32 line: %v, want 203.0.113.0/24", ecs[len(ecs)-1])
	}
}

func TestImportEmptyAndUnknown(t *testing.T) {
	s := openTest(t, t.TempDir())
	for _, in := range []string{"", "\n\n  \n"} {
		st, err := Import(ctx, s, strings.NewReader(in), ImportOptions{})
		if err != nil || st.Lines != 0 {
			t.Errorf("Import(%q) = %+v, %v; want nothing, no error", in, st, err)
		}
	}
	_, err := Import(ctx, s, strings.NewReader("{\"x\":1}\n{\"y\":2}\n"), ImportOptions{})
	if err == nil || !strings.Contains(err.Error(), "cannot tell beacons from DNS log lines: line 1") {
		t.Errorf("Import of unknown lines: %v, want cannot tell … line 1", err)
	}
	// A first line that does not tell is skipped for sniffing, and
	// counted as bad when parsed.
	bs := genBeacons(1, 2, 2, time.Time{})
	in := "not json\n" + beaconLine(&bs[0].Beacon, bs[0].ClientSubnet.String()) + "\n"
	st, err := Import(ctx, s, strings.NewReader(in), ImportOptions{})
	if err != nil || st.Format != FormatBeacons || st.Beacons != 1 || st.RejectedTotal() != 1 || st.LineErrors[0].Line != 1 {
		t.Errorf("Import with a bad first line = %+v, %v", st, err)
	}
}

func TestImportTruncatedGzip(t *testing.T) {
	s := openTest(t, t.TempDir())
	bs := genBeacons(1, 400, 20, time.Time{})
	var b bytes.Buffer
	for i := range bs {
		b.WriteString(beaconLine(&bs[i].Beacon, bs[i].ClientSubnet.String()) + "\n")
	}
	z := gzipBytes(t, b.Bytes())
	st, err := Import(ctx, s, bytes.NewReader(z[:len(z)/2]), ImportOptions{})
	if err == nil || !strings.Contains(err.Error(), "unexpected EOF") {
		t.Fatalf("Import of a cut gzip file: %+v, %v; want an unexpected EOF error", st, err)
	}
	if stored, _ := s.Stats(ctx); stored.Beacons != int64(st.Beacons) {
		t.Errorf("the stats count %d beacons, the store has %d", st.Beacons, stored.Beacons)
	}
}

func TestTruncateField(t *testing.T) {
	for _, tc := range []struct{ in, field, want string }{
		{`{"client_subnet":"198.51.100.7/32","v":1}`, "client_subnet", `{"client_subnet":"198.51.100.0/24","v":1}`},
		{`{"v":1, "client_subnet" : "198.51.100.7" }`, "client_subnet", `{"v":1, "client_subnet":"198.51.100.0/24" }`},
		{`{"x":{"client_subnet":"1.2.3.4/32"},"client_subnet":"2001:db8::1/128"}`, "client_subnet", `{"x":{"client_subnet":"1.2.3.4/32"},"client_subnet":"2001:db8::/56"}`},
		{`{"ecs":"10.1.2.3/20"}`, "ecs", `{"ecs":"10.1.0.0/20"}`},
		{`{"client\u005fsubnet":"198.51.100.7/32"}`, "client_subnet", `{"client\u005fsubnet":"198.51.100.0/24"}`},
		{`{"ecs":"nonsense"}`, "ecs", ""},
		{`{"ecs":7}`, "ecs", ""},
		{`{"v":1}`, "ecs", ""},
		{`[1]`, "ecs", ""},
	} {
		got, ok := truncateField([]byte(tc.in), tc.field)
		if ok != (tc.want != "") || string(got) != tc.want {
			t.Errorf("truncateField(%s, %s) = %s, %v; want %s", tc.in, tc.field, got, ok, tc.want)
		}
	}
}

// FuzzTruncateField: a rewritten line is valid JSON whose field holds a
// prefix no finer than /24 or /56 that contains the original value.
func FuzzTruncateField(f *testing.F) {
	f.Add([]byte(`{"client_subnet":"198.51.100.7/32","v":1}`))
	f.Add([]byte(`{"v":1, "client_subnet" : "2001:db8::1" }`))
	f.Add([]byte(`{"client_subnet":"::ffff:1.2.3.4/128"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		out, ok := truncateField(line, "client_subnet")
		if !ok {
			return
		}
		if !json.Valid(out) {
			if json.Valid(line) {
				t.Fatalf("truncateField(%s) = %s: not JSON", line, out)
			}
			return
		}
		var m map[string]any
		if json.Unmarshal(out, &m) != nil {
			return
		}
		s, _ := m["client_subnet"].(string)
		p, err := netip.ParsePrefix(s)
		if err != nil {
			if json.Valid(line) {
				t.Fatalf("truncateField(%s) = %s: client_subnet is not a prefix", line, out)
			}
			return
		}
		if _, err := store.NetworkKey(p); err != nil {
			t.Fatalf("truncateField(%s) = %s: %v", line, out, err)
		}
	})
}

// BenchmarkIngest imports a generated file of 20-sample beacons (~1M
// samples) into a fresh store each time.
func BenchmarkIngest(b *testing.B) {
	bs := genBeacons(1, 50_000, 20, time.Time{})
	var buf bytes.Buffer
	for i := range bs {
		buf.Write(rum.AppendBeacon(nil, &bs[i].Beacon))
		buf.WriteByte('\n')
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	samples := 0
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		s, err := Open(fmt.Sprintf("%s/%d", b.TempDir(), i), Options{Threads: 1})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		st, err := Import(ctx, s, bytes.NewReader(data), ImportOptions{})
		if err != nil || st.Samples != 1_000_000 {
			b.Fatalf("Import = %+v, %v", st, err)
		}
		samples += st.Samples
		b.StopTimer()
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(samples)/b.Elapsed().Seconds(), "samples/s")
}

// FuzzParseChunk runs a worker over fuzzed lines: every non-blank line is
// either in the batch or rejected, a stored subnet is never finer than /24
// or /56, and an error about client_subnet or ecs never quotes its value.
func FuzzParseChunk(f *testing.F) {
	bs := genBeacons(1, 2, 3, time.Time{})
	f.Add([]byte(beaconLine(&bs[0].Beacon, "198.51.100.7/32")+"\n"+beaconLine(&bs[1].Beacon, "2001:db8::1")), true)
	f.Add([]byte(`{"v":1,"client_subnet":"198.51.100.7/33","agent":{"kind":"web"},"samples":[]}`), true)
	f.Add([]byte(`{"ts":"2026-11-21T10:00:00.101Z","qname":"a.rum.example.net.","qtype":"A","resolver":"198.51.100.7","ecs":"203.0.113.99/32","source":"ecs"}`), false)
	f.Add([]byte("\n \r\n{}\nnot json"), false)
	f.Add([]byte(`{"ts":"2026-03-01T12:00:00.123456Z","pop":"fra","client_net":"203.0.113.77","tcp_rtt_us":12500}`+"\n"+
		`{"ts":"2026-03-01T12:00:00Z","pop":"fra","client_net":"2001:db8::1/64x","tcp_rtt_us":1}`), false)
	f.Fuzz(func(t *testing.T, data []byte, beacons bool) {
		p := parser{format: FormatDNSLog, received: testStart, maxErrs: 1 << 20}
		if beacons {
			p.format = FormatBeacons
		} else if bytes.Contains(data, []byte("tcp_rtt_us")) {
			p.format = FormatEdgeLog
		}
		var res parsed
		p.parse(&chunk{data: data, firstLine: 1}, &res)
		if n := res.b.beacons() + res.b.queries() + res.st.RejectedTotal() + res.st.NoTCP; n != res.st.Lines {
			t.Fatalf("%d lines, %d stored or rejected", res.st.Lines, n)
		}
		for _, k := range res.b.nets {
			if !store.NetworkPrefix(k).IsValid() {
				t.Fatalf("stored network key %#x", k)
			}
		}
		for _, e := range res.st.LineErrors {
			if !strings.HasPrefix(e.Err, "client_subnet") && !strings.HasPrefix(e.Err, "ecs") && !strings.HasPrefix(e.Err, "client_net") {
				continue
			}
			var m map[string]any
			line := bytes.Split(data, []byte{'\n'})[e.Line-1]
			if json.Unmarshal(line, &m) == nil {
				for _, k := range []string{"client_subnet", "ecs", "client_net"} {
					if v, ok := m[k].(string); ok && len(v) > 3 && strings.Contains(e.Err, v) {
						t.Fatalf("line %d: error %q quotes the %s value", e.Line, e.Err, k)
					}
				}
			}
		}
	})
}

func TestImportCanceled(t *testing.T) {
	s := openTest(t, t.TempDir())
	bs := genBeacons(1, 3000, 20, time.Time{})
	var b bytes.Buffer
	for i := range bs {
		b.WriteString(beaconLine(&bs[i].Beacon, bs[i].ClientSubnet.String()) + "\n")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	st, err := Import(cctx, s, bytes.NewReader(b.Bytes()), ImportOptions{TxRows: 1000})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Import with a canceled context = %+v, %v", st, err)
	}
	stored, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Beacons != int64(st.Beacons) || stored.Samples != int64(st.Samples) {
		t.Errorf("the stats count %d beacons and %d samples, the store has %d and %d", st.Beacons, st.Samples, stored.Beacons, stored.Samples)
	}
	// The store still works.
	st, err = Import(ctx, s, bytes.NewReader(b.Bytes()), ImportOptions{TxRows: 1000})
	if err != nil || st.Beacons+st.Duplicates != 3000 {
		t.Errorf("Import after the canceled one = %+v, %v", st, err)
	}
}
