package duckstore

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steer-gslb/steer/edge/accesslog"
	"github.com/steer-gslb/steer/edge/tcpinfo"
)

// writeEdgeLog writes an access log through the edge's own Writer: one
// line per host, the PoP cycling over pops, RTT 10 ms + i µs; every tenth
// line without TCP_INFO.
func writeEdgeLog(t *testing.T, path string, hosts []netip.Addr, pops []string, at time.Time) {
	t.Helper()
	w, err := accesslog.Open(path, accesslog.Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range hosts {
		e := accesslog.Entry{Time: at.Add(time.Duration(i) * time.Millisecond), PoP: pops[i%len(pops)], RequestID: fmt.Sprintf("r%d", i),
			Method: "GET", Host: "www.example.com", Path: "/x?client=" + h.String(), Status: 200, Proto: "HTTP/1.1", Client: h,
			HasTCP: i%10 != 9, TCP: tcpinfo.Info{RTT: 10*time.Millisecond + time.Duration(i)*time.Microsecond, MinRTT: 9 * time.Millisecond, Cwnd: 10}}
		w.Write(&e)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestImportEdgeLog(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, filepath.Join(dir, "store"))
	hosts := clientHosts(50)[:50]
	path := filepath.Join(dir, "access.ndjson")
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	writeEdgeLog(t, path, hosts, []string{"fra", "ams"}, at)
	// Lines from elsewhere: a bare address, a bad client_net, no client_net, a bad PoP, a type error.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(`{"ts":"2026-03-01T12:00:01Z","pop":"fra","client_net":"198.51.100.77","tcp_rtt_us":20000}` + "\n" +
		`{"ts":"2026-03-01T12:00:01Z","pop":"fra","client_net":"198.51.100.77/", "tcp_rtt_us":20000}` + "\n" +
		`{"ts":"2026-03-01T12:00:01Z","pop":"fra","tcp_rtt_us":20000}` + "\n" +
		`{"ts":"2026-03-01T12:00:01Z","pop":"Fra!","client_net":"198.51.100.0/24","tcp_rtt_us":20000}` + "\n" +
		`{"ts":"2026-03-01T12:00:01Z","pop":"fra","client_net":"198.51.100.0/24","tcp_rtt_us":"x"}` + "\n")
	_ = f.Close()

	st, err := ImportFile(ctx, s, path, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Format != FormatEdgeLog || st.Lines != 55 || st.Beacons != 46 || st.Samples != 46 || st.NoTCP != 5 || st.Truncated != 1 {
		t.Errorf("stats %+v: want an edge log, 55 lines, 46 RTTs, 5 without TCP_INFO, 1 truncated", st)
	}
	if want := map[string]int{"client_net": 2, "pop": 1, "tcp_rtt_us": 1}; !maps(st.Rejected, want) {
		t.Errorf("rejected %v, want %v", st.Rejected, want)
	}
	for _, le := range st.LineErrors {
		if strings.Contains(le.Err, "198.51.100.77") {
			t.Errorf("line %d error quotes a client address: %s", le.Line, le.Err)
		}
	}
	var n int
	var minRTT, maxRTT float64
	err = s.Read(func() error {
		return s.DB().QueryRowContext(ctx, `SELECT count(*), min(rtt_ms), max(rtt_ms) FROM samples_v s JOIN beacons_v b USING (seq)
			WHERE b.kind = 'edge' AND b.timer = 'tcp_info' AND b.source = 'edge' AND s.probe = 'tcp' AND s.target = s.served_by
			AND s.target IN ('fra', 'ams') AND b.received = s.ts`).Scan(&n, &minRTT, &maxRTT)
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 46 || minRTT != 10 || maxRTT != 20 {
		t.Errorf("stored %d edge samples, RTT %v..%v ms; want 46, 10..20", n, minRTT, maxRTT)
	}
	var net string
	err = s.Read(func() error {
		return s.DB().QueryRowContext(ctx, `SELECT network FROM samples_v WHERE rtt_ms = 20`).Scan(&net)
	})
	if err != nil {
		t.Fatal(err)
	}
	if net != "198.51.100.0/24" {
		t.Errorf("the bare address's line is stored as %s, want 198.51.100.0/24", net)
	}
	// Imported again: every line is a duplicate.
	st, err = ImportFile(ctx, s, path, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Beacons != 0 || st.Duplicates != 46 {
		t.Errorf("second import %+v: want 0 added, 46 duplicates", st)
	}
}

// TestNoClientAddressInEdgeImport writes an access log through the edge's
// Writer for many client addresses, adds lines with full addresses as they
// could come from another writer, imports them and scans the log, the
// store (open and closed) and every error message for any of them.
func TestNoClientAddressInEdgeImport(t *testing.T) {
	dir := t.TempDir()
	sdir := filepath.Join(dir, "store")
	s, err := Open(sdir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	hosts := clientHosts(300)
	path := filepath.Join(dir, "access.ndjson")
	writeEdgeLog(t, path, hosts, []string{"fra", "ams", "lhr"}, testStart)
	logBytes, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var foreign bytes.Buffer
	for i, h := range hosts {
		cn := h.String()
		switch i % 4 {
		case 0:
			cn += fmt.Sprintf("/%d", h.BitLen())
		case 1:
			cn += "/x" // unparseable: rejected, not quoted
		}
		fmt.Fprintf(&foreign, `{"ts":"%s","pop":"fra","client_net":"%s","tcp_rtt_us":%d}`+"\n", testStart.Format(time.RFC3339Nano), cn, 5000+i)
	}
	texts := map[string][]byte{"edge log": logBytes}
	for name, in := range map[string][]byte{"edge writer": logBytes, "foreign": foreign.Bytes()} {
		st, err := Import(ctx, s, bytes.NewReader(in), ImportOptions{MaxLineErrors: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if st.Format != FormatEdgeLog || st.Beacons == 0 {
			t.Fatalf("%s: %+v", name, st)
		}
		var msgs []string
		for _, e := range st.LineErrors {
			msgs = append(msgs, e.Err)
		}
		texts[name+" line errors"] = []byte(strings.Join(msgs, "\n"))
		if name == "foreign" && (st.Truncated == 0 || st.Rejected["client_net"] == 0) {
			t.Fatalf("foreign lines: %+v: want truncated and rejected client_net", st)
		}
	}
	if found := leaks(t, sdir, texts, hosts); len(found) > 0 {
		t.Errorf("client addresses found (open store, log, errors):\n%s", strings.Join(found, "\n"))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if found := leaks(t, sdir, nil, hosts); len(found) > 0 {
		t.Errorf("client addresses found in the closed store:\n%s", strings.Join(found, "\n"))
	}
}
