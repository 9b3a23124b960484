//go:build cgo

package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/steer-gslb/steer/rum"
	"github.com/steer-gslb/steer/store"
	"github.com/steer-gslb/steer/store/duckstore"
)

// ingestHosts are full client addresses, one in each of n IPv4 /24s.
func ingestHosts(n int) []netip.Addr {
	out := make([]netip.Addr, n)
	for i := range out {
		out[i] = netip.AddrFrom4([4]byte{100, byte(96 + i/256), byte(i), byte(0x81 + i%120)})
	}
	return out
}

// writeIngestFiles writes a beacon file whose client_subnet values are
// host addresses (/32), with bad lines at known numbers, and a gzipped DNS
// log whose ECS values are host addresses. It returns the files and the
// numbers of the bad beacon lines.
func writeIngestFiles(t *testing.T, dir string, hosts []netip.Addr) (string, string, []int) {
	t.Helper()
	var beacons, log bytes.Buffer
	var bad []int
	line := 0
	ts := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	for i, h := range hosts {
		b := rum.Beacon{V: 1, Agent: rum.Agent{Kind: rum.KindDesktop, Timer: "qpc"}, DNSTest: fmt.Sprintf("n%d.rum.example.net", i)}
		for j, pop := range []string{"fra", "ams", "lhr", "anycast"} {
			s := rum.Sample{TS: ts.Add(time.Duration(i*10+j) * time.Millisecond), Target: pop, Probe: rum.ProbeHTTPS, RTTms: float64(10+i%90) + float64(j)/10}
			if pop == rum.Anycast {
				s.ServedBy = "fra"
			}
			b.Samples = append(b.Samples, s)
		}
		text := string(rum.AppendBeacon(nil, &b))
		text = `{"v":1,"client_subnet":"` + h.String() + `/32",` + strings.TrimPrefix(text, `{"v":1,`)
		beacons.WriteString(text + "\n")
		line++
		if i%50 == 7 {
			beacons.WriteString(strings.Replace(text, `"rtt_ms":`, `"rtt_ms":"slow","x":`, 1) + "\n")
			line++
			bad = append(bad, line)
		}
		e := rum.LogEntry{TS: ts, QName: b.DNSTest + ".", QType: "A", Resolver: netip.MustParseAddr("192.0.2.53"),
			ECS: netip.PrefixFrom(h, 32), PoP: "fra", Source: rum.SourceECS}
		log.Write(rum.AppendLogEntry(nil, &e))
		log.WriteString("\n")
	}
	beacons.WriteString(`{"v":1,"client_subnet":"` + hosts[0].String() + `/33","agent":{"kind":"web"},"samples":[]}` + "\n")
	line++
	bad = append(bad, line)

	bf := filepath.Join(dir, "beacons.ndjson")
	if err := os.WriteFile(bf, beacons.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	if _, err := zw.Write(log.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	lf := filepath.Join(dir, "dnslog.ndjson.gz")
	if err := os.WriteFile(lf, z.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return bf, lf, bad
}

func TestIngestCommand(t *testing.T) {
	tmp := t.TempDir()
	hosts := ingestHosts(400)
	bf, lf, bad := writeIngestFiles(t, tmp, hosts)
	dir := filepath.Join(tmp, "store")
	var out, errb bytes.Buffer
	if code := runIngest([]string{"--store", dir, "--show-errors", "3", bf, lf}, &out, &errb); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	got := out.String()
	nbad := len(bad)
	for _, want := range []string{
		fmt.Sprintf("%s: beacons, %d lines in ", bf, 400+nbad),
		"400 beacons added, 0 duplicates, 1600 samples (",
		fmt.Sprintf("; %d rejected (samples[].rtt_ms %d, client_subnet 1)", nbad, nbad-1),
		"; 400 client subnets truncated to /24 or /56",
		fmt.Sprintf("  line %d: samples[0].rtt_ms: ", bad[0]),
		fmt.Sprintf("  line %d: samples[0].rtt_ms: ", bad[2]),
		fmt.Sprintf("%s: dns log (gzip), 400 lines in ", lf),
		"400 queries added; 0 rejected; 400 client subnets truncated",
		"1600 samples (",
		fmt.Sprintf("total: %d lines in ", 800+nbad),
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, fmt.Sprintf("line %d:", bad[3])) {
		t.Errorf("more than --show-errors 3 bad lines printed:\n%s", got)
	}
	if errb.Len() > 0 {
		t.Errorf("stderr: %s", errb.String())
	}

	// The store holds what the summary says, truncated.
	s, err := duckstore.Open(dir, duckstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Beacons != 400 || st.Samples != 1600 || st.Queries != 400 {
		t.Errorf("store has %+v, want 400 beacons, 1600 samples, 400 queries", st)
	}
	seen := map[netip.Prefix]bool{}
	if err := s.ScanSamples(context.Background(), func(r *store.SampleRow) error {
		seen[r.Network] = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, h := range hosts[:5] {
		if p, _ := store.Truncate(netip.PrefixFrom(h, 32)); !seen[p] {
			t.Errorf("no samples from %s", p)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Again: every beacon is a duplicate; the log lines are stored again
	// (the builder counts repeated queries).
	out.Reset()
	if code := runIngest([]string{"--store", dir, bf}, &out, &errb); code != 0 {
		t.Fatalf("second run: exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "0 beacons added, 400 duplicates, 0 samples") {
		t.Errorf("second run:\n%s", out.String())
	}

	if found := ingestLeaks(t, dir, out.Bytes(), got, errb.String(), hosts); len(found) > 0 {
		t.Errorf("full client addresses found:\n%s", strings.Join(found, "\n"))
	}
}

// ingestLeaks lists occurrences of any host (as text or as its 4 bytes in
// either order) and of any "/32" in the files under dir and in texts.
func ingestLeaks(t *testing.T, dir string, out []byte, texts string, stderr string, hosts []netip.Addr) []string {
	t.Helper()
	blobs := map[string][]byte{"stdout": out, "first stdout": []byte(texts), "stderr": []byte(stderr)}
	if err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		blobs[p] = b
		return err
	}); err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`\d+\.\d+\.\d+\.\d+/3[2-9]`)
	var found []string
	for name, b := range blobs {
		for _, h := range hosts {
			a := h.As4()
			for kind, pat := range map[string][]byte{"text": []byte(h.String()), "BE": a[:], "LE": {a[3], a[2], a[1], a[0]}} {
				if bytes.Contains(b, pat) {
					found = append(found, fmt.Sprintf("%s: %s as %s", name, h, kind))
				}
			}
		}
		if m := re.Find(b); m != nil {
			found = append(found, name+": "+string(m))
		}
	}
	return found
}

func TestIngestErrors(t *testing.T) {
	tmp := t.TempDir()
	good := filepath.Join(tmp, "good.ndjson")
	if err := os.WriteFile(good, []byte(`{"v":1,"client_subnet":"203.0.113.0/24","agent":{"kind":"web"},"samples":[{"ts":"2026-11-21T10:00:00.123Z","target":"fra","probe":"https","rtt_ms":23.4}]}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	odd := filepath.Join(tmp, "odd.ndjson")
	if err := os.WriteFile(odd, []byte("{\"x\":1}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(tmp, "missing.ndjson")
	dir := filepath.Join(tmp, "store")
	for _, tc := range []struct {
		args []string
		code int
		out  string
		err  string
	}{
		{nil, 2, "", "--store DIR and at least one FILE are required"},
		{[]string{"--store", dir}, 2, "", "--store DIR and at least one FILE are required"},
		{[]string{good}, 2, "", "--store DIR"},
		{[]string{"--store", dir, missing, good}, 1, "", "missing.ndjson: no such file"}, // checked before anything is imported,
		{[]string{"--store", dir, odd}, 1, "", "odd.ndjson: cannot tell beacons from DNS log lines: line 1 has no key"},
		{[]string{"--help"}, 0, "usage: steer ingest --store DIR|URL FILE...", ""},
	} {
		var out, errb bytes.Buffer
		code := runIngest(tc.args, &out, &errb)
		if code != tc.code || !strings.Contains(out.String(), tc.out) || !strings.Contains(errb.String(), tc.err) {
			t.Errorf("steer ingest %v: exit %d (want %d)\nstdout %q (want %q)\nstderr %q (want %q)", tc.args, code, tc.code, out.String(), tc.out, errb.String(), tc.err)
		}
	}
}
