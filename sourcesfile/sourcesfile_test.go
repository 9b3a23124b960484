package sourcesfile

import (
	"net/netip"
	"strings"
	"testing"
)

var readCases = []struct {
	name, in, err string
	n             int
}{
	{"ok", "# h\n\n10.0.0.0/8\tmeasured\n10.1.0.0/16\textrapolate-as\n2001:db8::/56\tresolver\n", "", 3},
	{"no tab", "10.0.0.0/8 measured\n", "line 1: want network<TAB>source", 0},
	{"bad network", "10.0.0/8\tmeasured\n", "line 1: ", 0},
	{"host bits", "10.0.0.1/8\tmeasured\n", "line 1: 10.0.0.1/8 has host bits set", 0},
	{"unknown", "10.0.0.0/8\tguessed\n", `line 1: unknown source "guessed"`, 0},
	{"twice", "10.0.0.0/8\tmeasured\n10.0.0.0/8\tresolver\n", "line 2: 10.0.0.0/8 listed twice", 0},
	{"long line", strings.Repeat("x", 5000) + "\n", "longer than 4096 bytes", 0},
}

func TestRead(t *testing.T) {
	for _, tc := range readCases {
		tab, n, err := Read(strings.NewReader(tc.in))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || n != tc.n {
			t.Fatalf("%s: %d, %v", tc.name, n, err)
		}
		if _, src, ok := tab.LookupPrefixLPM(netip.MustParsePrefix("10.1.2.3/32")); !ok || src != "extrapolate-as" {
			t.Errorf("%s: 10.1.2.3 → %q %v, want the /16's extrapolate-as", tc.name, src, ok)
		}
	}
}

func FuzzRead(f *testing.F) {
	for _, tc := range readCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		tab, n, err := Read(strings.NewReader(in))
		if err == nil && (tab == nil || n < 0) {
			t.Fatalf("no table without an error")
		}
	})
}
