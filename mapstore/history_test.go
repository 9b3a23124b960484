package mapstore

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const sumA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

var goodLines = []string{
	`{"version":1,"action":"publish","time":"2026-11-25T17:00:00Z","sha256":"` + sumA + `","forced":false,"previous":0,"file":"versions/000001.json"}`,
	`{"version":2,"action":"publish","time":"2026-11-25T17:00:00.123456789Z","sha256":"` + sumA + `","forced":true,"previous":1,"file":"versions/000002.json","source":"/tmp/m.json","gate":{"metric":"regret_ms","candidate":4.5,"current":3,"worse":true,"detail":{"p75_ms":20}},"score":{"store":"/var/rum"}}`,
	`{"version":1,"action":"rollback","time":"2026-11-25T18:00:00+01:00","sha256":"` + sumA + `","forced":false,"previous":2,"file":"versions/000001.json"}`,
	// Unknown keys (a newer writer) are ignored; null score is absent.
	`{"version":3,"action":"publish","time":"2026-11-25T17:00:00Z","sha256":"` + sumA + `","forced":false,"previous":1,"file":"versions/000003.json","score":null,"by":"ci"}`,
	`{"version":1234567,"action":"publish","time":"2026-11-25T17:00:00Z","sha256":"` + sumA + `","previous":7,"file":"versions/1234567.json","score":[1, 2, {"a" : "<&>"}]}`,
}

func TestParseRecord(t *testing.T) {
	for _, line := range goodLines {
		r, err := ParseRecord([]byte(line))
		if err != nil {
			t.Errorf("%s: %v", line, err)
			continue
		}
		if r.Time.Location() != time.UTC {
			t.Errorf("%s: time %v not UTC", line, r.Time)
		}
	}
	r, _ := ParseRecord([]byte(goodLines[2]))
	if !r.Time.Equal(time.Date(2026, 11, 25, 17, 0, 0, 0, time.UTC)) || r.Action != ActionRollback || r.Previous != 2 {
		t.Errorf("parsed %+v", r)
	}
	r, _ = ParseRecord([]byte(goodLines[3]))
	if r.Score != nil {
		t.Errorf("score null parsed as %q, want absent", r.Score)
	}

	base := strings.TrimSuffix(goodLines[0], "}")
	for _, tc := range []struct{ line, want string }{
		{``, "EOF"},
		{`{`, "unexpected EOF"},
		{`null`, "version 0"},
		{base + `} {}`, "data after the JSON object"},
		{base + `}x`, "data after"},
		{strings.Replace(goodLines[0], `"version":1,`, `"version":0,`, 1), "version 0: want ≥ 1"},
		{strings.Replace(goodLines[0], `"version":1,`, `"version":"1",`, 1), "cannot unmarshal string"},
		{strings.Replace(goodLines[0], `"publish"`, `"delete"`, 1), `action "delete"`},
		{strings.Replace(goodLines[0], `"time":"2026-11-25T17:00:00Z",`, ``, 1), "time missing"},
		{strings.Replace(goodLines[0], `2026-11-25T17:00:00Z`, `yesterday`, 1), "cannot parse"},
		{strings.Replace(goodLines[0], sumA, strings.ToUpper(sumA), 1), "64 lowercase hex digits"},
		{strings.Replace(goodLines[0], sumA, sumA[:62], 1), "64 lowercase hex digits"},
		{strings.Replace(goodLines[0], `"previous":0`, `"previous":1`, 1), "previous 1"},
		{strings.Replace(goodLines[0], `"previous":0`, `"previous":-1`, 1), "previous -1"},
		{strings.Replace(goodLines[2], `"previous":2`, `"previous":0`, 1), "rollback without a previous version"},
		{strings.Replace(goodLines[0], `000001.json`, `000002.json`, 1), `want "versions/000001.json"`},
		{strings.Replace(goodLines[0], `versions/000001.json`, `../000001.json`, 1), "file"},
		{strings.Replace(goodLines[1], `"candidate":4.5`, `"candidate":1e999`, 1), "cannot unmarshal"},
	} {
		if _, err := ParseRecord([]byte(tc.line)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseRecord(%s): %v, want an error containing %q", tc.line, err, tc.want)
		}
	}
}

func TestReadHistoryBadLine(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, historyName)
	if err := os.WriteFile(p, []byte(goodLines[0]+"\n\n"+`{"version":2}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readHistory(p); err == nil || !strings.Contains(err.Error(), "history "+p+" line 3: ") {
		t.Errorf("readHistory: %v, want an error naming line 3", err)
	}
}

// FuzzParseRecord: ParseRecord never panics, and what it accepts writes
// back (AppendRecord) to a line it parses to the same record, written the
// same way again.
func FuzzParseRecord(f *testing.F) {
	for _, l := range goodLines {
		f.Add([]byte(l))
	}
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"version":2,"action":"rollback","time":"2026-11-25T17:00:00Z","sha256":"` + sumA + `","previous":1,"file":"versions/000002.json","gate":{"detail":null}}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := ParseRecord(line)
		if err != nil {
			return
		}
		out, err := AppendRecord(nil, r)
		if err != nil {
			t.Fatalf("AppendRecord of a parsed record: %v\n%s", err, line)
		}
		if bytes.Count(out, []byte{'\n'}) != 1 || out[len(out)-1] != '\n' {
			t.Fatalf("AppendRecord wrote %q: not one line", out)
		}
		r2, err := ParseRecord(out[:len(out)-1])
		if err != nil {
			t.Fatalf("reparsing %s: %v", out, err)
		}
		out2, err := AppendRecord(nil, r2)
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("not stable:\n%s\n%s (%v)", out, out2, err)
		}
	})
}
