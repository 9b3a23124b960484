package rum

import (
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReader(t *testing.T) {
	type line struct {
		n    int
		text string
	}
	for _, c := range []struct {
		name  string
		in    string
		lines []line
		err   string
	}{
		{"empty", "", nil, ""},
		{"lines", "a\nb\n", []line{{1, "a"}, {2, "b"}}, ""},
		{"no final newline", "a\nb", []line{{1, "a"}, {2, "b"}}, ""},
		{"CRLF", "a\r\nb\r\n", []line{{1, "a"}, {2, "b"}}, ""},
		{"blank lines skipped, counted", "\n  \t\na\n\r\n\nb\n\n", []line{{3, "a"}, {6, "b"}}, ""},
		{"longest line", strings.Repeat("x", MaxLineSize) + "\r\nb", []line{{1, strings.Repeat("x", MaxLineSize)}, {2, "b"}}, ""},
		{"longest line at the end", "a\n" + strings.Repeat("x", MaxLineSize), []line{{1, "a"}, {2, strings.Repeat("x", MaxLineSize)}}, ""},
		{"line too long", "a\n" + strings.Repeat("x", MaxLineSize+1) + "\nb\n", []line{{1, "a"}}, "line 2: line longer than 1 MiB"},
		{"line far too long", "a\n" + strings.Repeat("x", 3*MaxLineSize) + "\nb\n", []line{{1, "a"}}, "line 2: line longer than 1 MiB"},
		{"line too long at the end", "a\n" + strings.Repeat("x", MaxLineSize+1), []line{{1, "a"}}, "line 2: line longer than 1 MiB"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srcs := []io.Reader{strings.NewReader(c.in)}
			if len(c.in) < 1000 {
				// One byte at a time too, to exercise the buffering.
				// (Not for long lines: bufio.Scanner rescans its
				// buffer after every read, quadratic in 1-byte reads.)
				srcs = append(srcs, iotest.OneByteReader(strings.NewReader(c.in)))
			}
			for _, src := range srcs {
				r := NewReader(src)
				var got []line
				for l, ok := r.Next(); ok; l, ok = r.Next() {
					got = append(got, line{r.Line(), string(l)})
				}
				if len(got) != len(c.lines) {
					t.Fatalf("got %d lines, want %d", len(got), len(c.lines))
				}
				for i := range got {
					if got[i] != c.lines[i] {
						t.Errorf("line %d = %d %.20q, want %d %.20q", i, got[i].n, got[i].text, c.lines[i].n, c.lines[i].text)
					}
				}
				errText := ""
				if r.Err() != nil {
					errText = r.Err().Error()
				}
				if errText != c.err {
					t.Errorf("Err() = %q, want %q", errText, c.err)
				}
				if c.err != "" && !errors.Is(r.Err(), ErrLineTooLong) {
					t.Errorf("Err() = %v, not ErrLineTooLong", r.Err())
				}
				if _, ok := r.Next(); ok {
					t.Error("Next after the end returned a line")
				}
			}
		})
	}
}

func TestReaderReadError(t *testing.T) {
	boom := errors.New("boom")
	r := NewReader(io.MultiReader(strings.NewReader("a\nb\n"), iotest.ErrReader(boom)))
	n := 0
	for _, ok := r.Next(); ok; _, ok = r.Next() {
		n++
	}
	if n != 2 || !errors.Is(r.Err(), boom) || r.Err().Error() != "reading line 3: boom" {
		t.Errorf("%d lines, Err() = %v", n, r.Err())
	}
}

// TestReaderBeacons reads an NDJSON file of beacons the way ingest does,
// naming bad lines by number.
func TestReaderBeacons(t *testing.T) {
	good := top("")
	in := good + "\n" + good + "\n" + `{"v":2}` + "\n\n" + good
	r := NewReader(strings.NewReader(in))
	var b Beacon
	var ok, bad int
	var errs []string
	for l, more := r.Next(); more; l, more = r.Next() {
		if _, err := ParseBeacon(l, Bulk, &b); err != nil {
			bad++
			errs = append(errs, "line "+strconv.Itoa(r.Line())+": "+err.Error())
			continue
		}
		ok++
	}
	if r.Err() != nil || ok != 3 || bad != 1 || errs[0] != "line 3: v: unsupported version 2 (want 1)" {
		t.Errorf("ok %d bad %d errs %q err %v", ok, bad, errs, r.Err())
	}
}
