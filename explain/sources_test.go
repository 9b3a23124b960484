package explain

import (
	"net/netip"
	"strings"
	"testing"
)

var sourcesTests = []struct {
	name, in, err string
}{
	{"ok", "# header\n\n10.0.0.0/8\tmeasured\n10.1.0.0/16\textrapolate-as\n2001:db8::/32\tresolver\n", ""},
	{"no tab", "10.0.0.0/8 measured\n", "line 1: want network<TAB>source"},
	{"bad network", "10.0.0/8\tmeasured\n", "line 1:"},
	{"host bits", "10.0.0.1/8\tmeasured\n", "line 1: 10.0.0.1/8 has host bits set"},
	{"unknown origin", "# h\n10.0.0.0/8\tguessed\n", `line 2: unknown source "guessed"`},
	{"listed twice", "10.0.0.0/8\tmeasured\n10.0.0.0/8\tresolver\n", "line 2: 10.0.0.0/8 listed twice"},
	{"long line", strings.Repeat("x", 5000) + "\n", "longer than 4096 bytes"},
}

func TestReadSources(t *testing.T) {
	for _, tc := range sourcesTests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ReadSources(strings.NewReader(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Len() != 3 {
				t.Errorf("Len %d, want 3", s.Len())
			}
			for addr, want := range map[string]string{"10.1.2.3": "10.1.0.0/16 extrapolate-as", "10.2.0.1": "10.0.0.0/8 measured",
				"::ffff:10.9.9.9": "10.0.0.0/8 measured", "2001:db8::1": "2001:db8::/32 resolver", "192.0.2.1": " "} {
				p, o, _ := s.Lookup(netip.MustParseAddr(addr))
				got := " " + o
				if p.IsValid() {
					got = p.String() + got
				}
				if got != want {
					t.Errorf("Lookup(%s) = %q, want %q", addr, got, want)
				}
			}
		})
	}
}

func TestSourcesNil(t *testing.T) {
	var s *Sources
	if _, _, ok := s.Lookup(netip.MustParseAddr("10.0.0.1")); ok {
		t.Error("nil Sources found an entry")
	}
}

func FuzzReadSources(f *testing.F) {
	for _, tc := range sourcesTests {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ReadSources(strings.NewReader(in))
		if err != nil {
			if s != nil {
				t.Fatal("a Sources with an error")
			}
			return
		}
		s.Lookup(netip.MustParseAddr("10.0.0.1"))
	})
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"addr":"203.0.113.9","record":"www.example.net.","source":"ecs","scope":24,"pops":["fra"],"mapVersion":"3"}`,
		`{"addr":"2001:db8::1","source":"SOURCE_GEO","scope":"48","estimates":[{"pop":"fra","samples":"12","p75Ms":18.5}],"geo":{"prefix":"2001:db8::/32","nearest":"fra"}}`,
		`{"addr":""}`, `{"scope":"x"}`, `[]`, `{"ecsEntry":{"prefix":"10.0.0.0/8","labels":["a"],"origin":"measured"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeJSON(b)
		if err != nil {
			return
		}
		_ = r.String()
	})
}
