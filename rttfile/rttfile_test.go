package rttfile

import (
	"bytes"
	"math"
	"net/netip"
	"strings"
	"testing"
)

var readCases = []struct {
	name, in string
	err      string // "" = accepted
	n        int    // networks accepted
}{
	{"written", Header + "203.0.113.0/24\t12\tfra=23.1,ams=25.4,lhr=31\n10.0.0.0/8\t0\tams\n" +
		"9.9.9.9/32\t7.5\tfra=3,ams\n2001:db8::/56\t1\tsyd=140.25\n", "", 4},
	{"blank lines and comments", "\n# x\n\n1.2.3.0/24\t1\tfra=1\n", "", 1},
	{"empty", "", "", 0},
	{"unknown rtt in the middle", "1.2.3.0/24\t1\tfra=1,ams,lhr=3\n", "", 1},
	{"v4-mapped", "::ffff:1.2.3.0/120\t1\tfra\n", "", 1},
	{"exponent and zero", "1.2.3.0/24\t1e3\tfra=0\n", "", 1},
	{"two fields", "1.2.3.0/24\tfra=1\n", "line 1: want network<TAB>weight<TAB>label=rtt", 0},
	{"four fields", "1.2.3.0/24\t1\tfra=1\tx\n", "line 1: want network<TAB>weight", 0},
	{"spaces for tabs", "1.2.3.0/24 1 fra=1\n", "line 1: want network<TAB>weight", 0},
	{"bad network", "# h\n1.2.3.0/33\t1\tfra\n", "line 2:", 0},
	{"host bits", "1.2.3.4/24\t1\tfra\n", "line 1: \"1.2.3.4/24\": host bits set", 0},
	{"not a network", "fra\t1\tfra\n", "line 1:", 0},
	{"listed twice", "1.2.3.0/24\t1\tfra\n1.2.3.0/24\t2\tams\n", "line 2: 1.2.3.0/24 listed twice (first on line 1)", 0},
	{"negative weight", "1.2.3.0/24\t-1\tfra\n", "line 1: 1.2.3.0/24: weight: \"-1\" is not a finite number ≥ 0", 0},
	{"NaN weight", "1.2.3.0/24\tNaN\tfra\n", "line 1: 1.2.3.0/24: weight:", 0},
	{"infinite weight", "1.2.3.0/24\t+Inf\tfra\n", "weight: \"+Inf\" is not a finite", 0},
	{"word weight", "1.2.3.0/24\tmany\tfra\n", "weight: \"many\" is not a number", 0},
	{"no ranking", "1.2.3.0/24\t1\t\n", "line 1:", 0},
	{"empty label", "1.2.3.0/24\t1\tfra=1,,ams\n", "line 1: 1.2.3.0/24: empty label", 0},
	{"trailing comma", "1.2.3.0/24\t1\tfra=1,\n", "empty label", 0},
	{"empty rtt", "1.2.3.0/24\t1\tfra=\n", "rtt of fra: \"\" is not a number", 0},
	{"negative rtt", "1.2.3.0/24\t1\tfra=-3\n", "rtt of fra: \"-3\" is not a finite number", 0},
	{"two equals", "1.2.3.0/24\t1\tfra=1=2\n", "rtt of fra: \"1=2\" is not a number", 0},
	{"ranked twice", "1.2.3.0/24\t1\tfra=1,ams=2,fra=3\n", `label "fra" ranked twice`, 0},
	{"label with a quote", "1.2.3.0/24\t1\tf\"ra=1\n", "contains a space", 0},
	{"label too long", "1.2.3.0/24\t1\t" + strings.Repeat("a", 64) + "\n", "longer than 63 bytes", 0},
	{"label not UTF-8", "1.2.3.0/24\t1\t\xff\n", "invalid UTF-8", 0},
	{"line too long", "1.2.3.0/24\t1\t" + strings.Repeat("a,", 40000) + "\n", "longer than 65536 bytes", 0},
}

func TestReadRTT(t *testing.T) {
	for _, c := range readCases {
		t.Run(c.name, func(t *testing.T) {
			es, err := Read(strings.NewReader(c.in))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("Read error %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(es) != c.n {
				t.Errorf("Read: %d networks, want %d", len(es), c.n)
			}
		})
	}
}

// TestReadRTTValues checks what one line reads as, unknown RTTs as NaN.
func TestReadRTTValues(t *testing.T) {
	es, err := Read(strings.NewReader("203.0.113.0/24\t12\tfra=23.1,ams,lhr=31\n::ffff:1.2.3.0/120\t0.5\tams\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := es[0]
	if e.Network != netip.MustParsePrefix("203.0.113.0/24") || e.Weight != 12 || len(e.Ranked) != 3 {
		t.Fatalf("Read = %+v", e)
	}
	if c := e.Ranked[0]; c.Label != "fra" || c.RTT != 23.1 {
		t.Errorf("Ranked[0] = %+v, want fra=23.1", c)
	}
	if c := e.Ranked[1]; c.Label != "ams" || !math.IsNaN(c.RTT) {
		t.Errorf("Ranked[1] = %+v, want ams with NaN", c)
	}
	if es[1].Network != netip.MustParsePrefix("1.2.3.0/24") {
		t.Errorf("v4-mapped network read as %s, want 1.2.3.0/24", es[1].Network)
	}
}

// TestWriteRTTGolden: Write's bytes for the brief's example line.
func TestWriteRTTGolden(t *testing.T) {
	es := []Entry{{
		Network: netip.MustParsePrefix("203.0.113.0/24"), Weight: 12,
		Ranked: []Choice{{"fra", 23.1}, {"ams", 25.4}, {"lhr", math.NaN()}},
	}}
	var buf bytes.Buffer
	if err := Write(&buf, es); err != nil {
		t.Fatal(err)
	}
	want := Header + "203.0.113.0/24\t12\tfra=23.1,ams=25.4,lhr\n"
	if buf.String() != want {
		t.Errorf("Write = %q, want %q", buf.String(), want)
	}
}

// equal compares entries, NaN RTTs equal to each other.
func equal(a, b []Entry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Network != y.Network || x.Weight != y.Weight || len(x.Ranked) != len(y.Ranked) {
			return false
		}
		for j := range x.Ranked {
			p, q := x.Ranked[j], y.Ranked[j]
			if p.Label != q.Label || p.RTT != q.RTT && !(math.IsNaN(p.RTT) && math.IsNaN(q.RTT)) {
				return false
			}
		}
	}
	return true
}

// FuzzReadRTT: any input is read or refused with an error that says it is
// about the RTT file, never a panic; what is accepted is written and read
// back identically, and writing again gives the same bytes.
func FuzzReadRTT(f *testing.F) {
	for _, c := range readCases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		es, err := Read(strings.NewReader(in))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "rtt") {
				t.Fatalf("error %q does not say it is about the RTT file", err)
			}
			return
		}
		var buf bytes.Buffer
		if err := Write(&buf, es); err != nil {
			t.Fatal(err)
		}
		written := buf.String()
		again, err := Read(&buf)
		if err != nil {
			t.Fatalf("reading back what was accepted: %v\n%s", err, written)
		}
		if !equal(es, again) {
			t.Fatalf("written and read back, the entries differ:\n%s", written)
		}
		var buf2 bytes.Buffer
		if err := Write(&buf2, again); err != nil {
			t.Fatal(err)
		}
		if buf2.String() != written {
			t.Fatal("writing what was read back gives other bytes")
		}
	})
}
