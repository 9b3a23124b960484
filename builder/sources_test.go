package builder

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/steer-gslb/steer/sourcesfile"
)

var readSourcesCases = []struct {
	name, in string
	err      string // "" = accepted
	n        int    // networks accepted
}{
	{"written", sourcesHeader + "1.2.3.0/24\tmeasured\n10.0.0.0/8\textrapolate-as\n10.1.0.0/16\textrapolate-prefix\n" +
		"10.1.2.0/24\textrapolate-geo\n9.9.9.9/32\tresolver\n2001:db8::/56\tmeasured\n", "", 6},
	{"blank lines and comments", "\n# x\n\n1.2.3.0/24\tmeasured\n", "", 1},
	{"empty", "", "", 0},
	{"no tab", "1.2.3.0/24 measured\n", "line 1: want network<TAB>source", 0},
	{"bad network", "# h\n1.2.3.0/33\tmeasured\n", "line 2:", 0},
	{"not a network", "fra\tmeasured\n", "line 1:", 0},
	{"host bits", "1.2.3.4/24\tmeasured\n", "line 1: 1.2.3.4/24 has host bits set", 0},
	{"unknown source", "1.2.3.0/24\tguessed\n", `line 1: unknown source "guessed"`, 0},
	{"rule that is not a source", "1.2.3.0/24\thttps-only\n", `unknown source "https-only"`, 0},
	{"listed twice", "1.2.3.0/24\tmeasured\n1.2.3.0/24\tresolver\n", "line 2: 1.2.3.0/24 listed twice", 0},
	{"line too long", "1.2.3.0/24\t" + strings.Repeat("x", 5000) + "\n", "longer than 4096 bytes", 0},
}

func TestReadSources(t *testing.T) {
	for _, c := range readSourcesCases {
		t.Run(c.name, func(t *testing.T) {
			tab, err := ReadSources(strings.NewReader(c.in))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tab.Size() != c.n {
				t.Errorf("%d networks, want %d", tab.Size(), c.n)
			}
		})
	}
}

// TestSourcesRoundTrip: what WriteTSV writes, ReadSources reads back, and
// an address's longest match names the entry that answers it.
func TestSourcesRoundTrip(t *testing.T) {
	s := &Sources{}
	add := func(p, from string) {
		s.Networks = append(s.Networks, netip.MustParsePrefix(p))
		s.From = append(s.From, from)
	}
	add("192.0.2.0/24", FromMeasured)
	add("198.51.100.53/32", FromResolver)
	add("198.51.0.0/16", RuleExtrapolateAS)
	add("198.51.100.0/22", RuleExtrapolateGeo)
	add("2001:db8::/32", RuleExtrapolatePfx)
	var buf bytes.Buffer
	if err := s.WriteTSV(&buf); err != nil {
		t.Fatal(err)
	}
	tab, err := ReadSources(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]string{
		"192.0.2.7":      FromMeasured,
		"198.51.100.53":  FromResolver,
		"198.51.100.54":  RuleExtrapolateGeo,
		"198.51.7.1":     RuleExtrapolateAS,
		"2001:db8:1::1":  RuleExtrapolatePfx,
		"203.0.113.1":    "",
		"::ffff:1.2.3.4": "",
	} {
		if got, _ := tab.Lookup(netip.MustParseAddr(addr)); got != want {
			t.Errorf("%s: source %q, want %q", addr, got, want)
		}
	}
}

// FuzzReadSources: any input is read or refused with an error naming a
// line, never a panic; what is accepted is written back identically.
func FuzzReadSources(f *testing.F) {
	for _, c := range readSourcesCases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		tab, err := ReadSources(strings.NewReader(in))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "sources") {
				t.Fatalf("error %q does not say it is about the sources", err)
			}
			return
		}
		s := &Sources{}
		for p, from := range tab.AllSorted() {
			s.Networks = append(s.Networks, p)
			s.From = append(s.From, from)
		}
		var buf bytes.Buffer
		if err := s.WriteTSV(&buf); err != nil {
			t.Fatal(err)
		}
		again, err := ReadSources(&buf)
		if err != nil {
			t.Fatalf("reading back what was accepted: %v", err)
		}
		if !again.Equal(tab) {
			t.Fatal("written and read back, the sources differ")
		}
	})
}

// TestSourceNamesAreTheFileFormat: the builder writes the names package
// sourcesfile reads.
func TestSourceNamesAreTheFileFormat(t *testing.T) {
	if !slices.Equal(SourceNames, sourcesfile.Names) {
		t.Errorf("builder writes %v, sourcesfile reads %v", SourceNames, sourcesfile.Names)
	}
}
