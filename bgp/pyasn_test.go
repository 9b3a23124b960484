package bgp

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// pyasnCases are shared by TestParsePyASN and the fuzz seeds. want lists the
// routes as "prefix asn" separated by commas; err is a substring of the
// expected error.
var pyasnCases = []struct {
	name string
	in   string
	want string
	err  string
}{
	{"empty", "", "", ""},
	{"pyasn header and routes", "; IP-ASN32-DAT file\n; Prefixes      : 2\n; \n1.0.0.0/24\t15169\n1.0.4.0/22\t56203\n", "1.0.0.0/24 15169,1.0.4.0/22 56203", ""},
	{"ipv6", "2001:200::/32\t2500\n2001:4:112::/48\t112\n", "2001:200::/32 2500,2001:4:112::/48 112", ""},
	{"no final newline", "1.0.0.0/24\t15169", "1.0.0.0/24 15169", ""},
	{"crlf", "; c\r\n1.0.0.0/24\t15169\r\n\r\n", "1.0.0.0/24 15169", ""},
	{"blank and whitespace lines", "\n   \n\t\n1.0.0.0/24\t15169\n\n", "1.0.0.0/24 15169", ""},
	{"comment with tab", ";\t1.2.3.4/33\tx\n", "", ""},
	{"4-byte ASN", "203.0.113.0/24\t4200000000\n", "203.0.113.0/24 4200000000", ""},
	{"max ASN", "203.0.113.0/24\t4294967295\n", "203.0.113.0/24 4294967295", ""},
	{"leading zeros in ASN", "203.0.113.0/24\t0064500\n", "203.0.113.0/24 64500", ""},
	{"default route", "0.0.0.0/0\t1\n::/0\t2\n", "0.0.0.0/0 1,::/0 2", ""},
	{"host route", "192.0.2.1/32\t64500\n", "192.0.2.1/32 64500", ""},
	{"v4-mapped v6 stays v6", "::ffff:192.0.2.0/120\t64500\n", "::ffff:192.0.2.0/120 64500", ""},

	{"bad prefix", "1.0.0.0/24\t15169\n1.0.0/24\t15169\n", "", `line 2: bad prefix "1.0.0/24"`},
	{"bad prefix length", "1.0.0.0/33\t15169\n", "", `line 1: bad prefix "1.0.0.0/33"`},
	{"no prefix length", "1.0.0.0\t15169\n", "", `line 1: bad prefix "1.0.0.0"`},
	{"leading zero octet", "01.0.0.0/8\t15169\n", "", `line 1: bad prefix "01.0.0.0/8"`},
	{"zone", "fe80::%eth0/64\t1\n", "", `line 1: bad prefix "fe80::%eth0/64"`},
	{"empty prefix", "\t15169\n", "", `line 1: bad prefix ""`},
	{"host bits", "; x\n1.0.0.1/24\t15169\n", "", "line 2: prefix 1.0.0.1/24 has host bits set (want 1.0.0.0/24)"},
	{"host bits v6", "2001:db8::1/32\t1\n", "", "line 1: prefix 2001:db8::1/32 has host bits set (want 2001:db8::/32)"},
	{"missing tab", "1.0.0.0/24 15169\n", "", `line 1: missing tab between prefix and ASN in "1.0.0.0/24 15169"`},
	{"prefix only", "1.0.0.0/24\n", "", `line 1: missing tab`},
	{"leading space", " 1.0.0.0/24\t15169\n", "", `line 1: bad prefix " 1.0.0.0/24"`},
	{"missing ASN", "1.0.0.0/24\t\n", "", "line 1: prefix 1.0.0.0/24: missing ASN"},
	{"ASN 0", "1.0.0.0/24\t0\n", "", "line 1: prefix 1.0.0.0/24: ASN 0 is reserved"},
	{"ASN out of range", "1.0.0.0/24\t4294967296\n", "", `line 1: prefix 1.0.0.0/24: ASN "4294967296" out of range`},
	{"ASN huge", "1.0.0.0/24\t99999999999999999999999\n", "", `out of range`},
	{"ASN negative", "1.0.0.0/24\t-1\n", "", `line 1: prefix 1.0.0.0/24: bad ASN "-1": not a decimal number`},
	{"ASN with AS", "1.0.0.0/24\tAS15169\n", "", `bad ASN "AS15169"`},
	{"ASN asdot", "1.0.0.0/24\t1.10\n", "", `bad ASN "1.10"`},
	{"ASN set", "1.0.0.0/24\t{1,2}\n", "", `bad ASN "{1,2}"`},
	{"trailing garbage", "1.0.0.0/24\t15169 x\n", "", `line 1: prefix 1.0.0.0/24: trailing data after ASN in "15169 x"`},
	{"trailing tab", "1.0.0.0/24\t15169\t\n", "", `trailing data after ASN`},
	{"third field", "1.0.0.0/24\t15169\t3356\n", "", `trailing data after ASN`},
	{"binary", "\x00\x01\x02\n", "", `line 1: missing tab`},
}

func parseWant(s string) []Route {
	var out []Route
	if s == "" {
		return out
	}
	for _, f := range strings.Split(s, ",") {
		var p, a string
		p, a, _ = strings.Cut(f, " ")
		asn, err := parseASN([]byte(a))
		if err != nil {
			panic(err)
		}
		out = append(out, Route{netip.MustParsePrefix(p), asn})
	}
	return out
}

func TestParsePyASN(t *testing.T) {
	for _, tc := range pyasnCases {
		t.Run(tc.name, func(t *testing.T) {
			got, fn := collect()
			st, err := ParsePyASN(strings.NewReader(tc.in), fn)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParsePyASN(%q) error = %v, want %q", tc.in, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePyASN(%q): %v", tc.in, err)
			}
			if want := parseWant(tc.want); !slices.Equal(*got, want) {
				t.Fatalf("ParsePyASN(%q) = %v, want %v", tc.in, *got, want)
			}
			if st.Format != FormatPyASN || st.Routes != len(*got) || st.Skipped != 0 || st.Truncated {
				t.Fatalf("ParsePyASN(%q) stats = %+v", tc.in, st)
			}
			if lines := strings.Count(strings.TrimSuffix(tc.in, "\n"), "\n") + 1; tc.in != "" && st.Lines != lines {
				t.Fatalf("ParsePyASN(%q) read %d lines, want %d", tc.in, st.Lines, lines)
			}
		})
	}
}

// TestParsePyASNCut: a reader failing with io.ErrUnexpectedEOF (a cut
// compressed stream) drops the partial last line and sets Truncated.
func TestParsePyASNCut(t *testing.T) {
	const text = "; h\n1.0.0.0/24\t15169\n1.0.4.0/22\t56203\n"
	full := parseWant("1.0.0.0/24 15169,1.0.4.0/22 56203")
	for i := range len(text) + 1 {
		r := io.MultiReader(strings.NewReader(text[:i]), iotest.ErrReader(io.ErrUnexpectedEOF))
		got, fn := collect()
		st, err := ParsePyASN(r, fn)
		if err != nil {
			t.Fatalf("cut at %d: %v", i, err)
		}
		if !st.Truncated {
			t.Fatalf("cut at %d: not truncated", i)
		}
		// Only complete lines count: a route needs its newline.
		want := full[:max(0, strings.Count(text[:i], "\n")-1)]
		if !slices.Equal(*got, want) {
			t.Fatalf("cut at %d: got %v, want %v", i, *got, want)
		}
	}
}

func TestParsePyASNReadError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("1.0.0.0/24\t15169\n"), iotest.ErrReader(boom))
	_, err := ParsePyASN(r, func(Route) error { return nil })
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "line 2: reading") {
		t.Fatalf("err = %v, want line 2: reading: boom", err)
	}
}

func TestParsePyASNLongLine(t *testing.T) {
	in := "1.0.0.0/24\t15169\n; " + strings.Repeat("x", bufSize) + "\n"
	_, err := ParsePyASN(strings.NewReader(in), func(Route) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "line 2: longer than") {
		t.Fatalf("err = %v, want line 2: longer than", err)
	}
}

func TestParsePyASNCallbackError(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	st, err := ParsePyASN(strings.NewReader("1.0.0.0/24\t1\n2.0.0.0/24\t2\n3.0.0.0/24\t3\n"), func(Route) error {
		if n++; n == 2 {
			return stop
		}
		return nil
	})
	if err != stop { //nolint:errorlint // the very error, unwrapped
		t.Fatalf("err = %v, want the callback's error unchanged", err)
	}
	if st.Routes != 1 {
		t.Fatalf("Routes = %d, want 1", st.Routes)
	}
}

// TestParseIPv4Prefix: the fast path agrees with netip.ParsePrefix.
func TestParseIPv4Prefix(t *testing.T) {
	for _, s := range ipv4PrefixSeeds {
		checkIPv4Prefix(t, s)
	}
}

var ipv4PrefixSeeds = []string{
	"10.0.0.0/8", "203.0.113.0/24", "0.0.0.0/0", "255.255.255.255/32", "1.2.3.4/9", "01.0.0.0/8", "1.2.3.4/33",
	"1.2.3.0/024", "1.2.3.0/00", "256.0.0.0/8", "1.2.3/24", "1.2.3.4/", "1.2.3.4", "1.2.3.4/1x", "1..3.4/8",
	"1.2.3.4.5/8", "1.2.3.4/+8", "1000.0.0.0/8", "::/0", "",
}

func checkIPv4Prefix(t *testing.T, s string) {
	t.Helper()
	got, ok := parseIPv4Prefix([]byte(s))
	want, err := netip.ParsePrefix(s)
	if ok && (err != nil || got != want) {
		t.Fatalf("parseIPv4Prefix(%q) = %v, want %v (%v)", s, got, want, err)
	}
	if !ok && err == nil && want.Addr().Is4() {
		t.Fatalf("parseIPv4Prefix(%q) rejected what netip accepts: %v", s, want)
	}
}

func TestWritePyASN(t *testing.T) {
	routes := parseWant("1.0.0.0/24 15169,2001:200::/32 2500,203.0.113.0/24 4200000000")
	var buf bytes.Buffer
	if err := WritePyASN(&buf, routes, "IP-ASN32-DAT file\nPrefixes: 3\n"); err != nil {
		t.Fatal(err)
	}
	const want = "; IP-ASN32-DAT file\n; Prefixes: 3\n;\n1.0.0.0/24\t15169\n2001:200::/32\t2500\n203.0.113.0/24\t4200000000\n"
	if buf.String() != want {
		t.Fatalf("WritePyASN wrote\n%s\nwant\n%s", buf.String(), want)
	}
	got, fn := collect()
	if _, err := ParsePyASN(&buf, fn); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(*got, routes) {
		t.Fatalf("round trip = %v, want %v", *got, routes)
	}
}

func TestWritePyASNErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    Route
		err  string
	}{
		{"zero route", Route{}, "route 1: invalid prefix"},
		{"host bits", Route{netip.MustParsePrefix("10.0.0.1/8"), 1}, "route 1: prefix 10.0.0.1/8 has host bits set (want 10.0.0.0/8)"},
		{"ASN 0", Route{netip.MustParsePrefix("10.0.0.0/8"), 0}, "route 1: prefix 10.0.0.0/8: ASN 0 is reserved"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			routes := []Route{{netip.MustParsePrefix("192.0.2.0/24"), 1}, tc.r}
			err := WritePyASN(io.Discard, routes, "")
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("WritePyASN error = %v, want %q", err, tc.err)
			}
		})
	}
	boom := errors.New("boom")
	if err := WritePyASN(errWriter{boom}, nil, "x"); !errors.Is(err, boom) {
		t.Fatalf("WritePyASN to a failing writer: %v, want boom", err)
	}
}

type errWriter struct{ err error }

func (w errWriter) Write([]byte) (int, error) { return 0, w.err }

// TestPyASNTestdata reads the real fragments shipped in testdata.
func TestPyASNTestdata(t *testing.T) {
	for _, tc := range []struct {
		file       string
		routes, v6 int
		first      string
	}{
		{"ipasn_20140513_head2000.dat.gz", 1995, 0, "1.0.0.0/24 15169"},
		{"ipasn_20140513_head200.dat.bz2", 200, 0, "1.0.0.0/24 15169"},
		{"ipasn6_20151101_v6head1000.dat.gz", 1000, 1000, "2001::/32 6939"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, fn := collect()
			st, err := ReadFile(filepath.Join("testdata", tc.file), fn)
			if err != nil {
				t.Fatal(err)
			}
			if st.Format != FormatPyASN || st.Routes != tc.routes || st.Truncated || len(*got) != tc.routes {
				t.Fatalf("stats = %+v, want %d routes", st, tc.routes)
			}
			checkRoutes(t, *got)
			v6 := 0
			for _, r := range *got {
				if r.Prefix.Addr().Is6() {
					v6++
				}
			}
			if v6 != tc.v6 {
				t.Errorf("%d IPv6 routes, want %d", v6, tc.v6)
			}
			if want := parseWant(tc.first)[0]; (*got)[0] != want {
				t.Errorf("first route %v, want %v", (*got)[0], want)
			}
		})
	}
}

// TestPyASNRaw reads the full pyasn files when they are available.
func TestPyASNRaw(t *testing.T) {
	dir := rawDir(t, "ipasn_20140513.dat.gz", "ipasn6_20151101.dat.gz")
	for _, tc := range []struct {
		file       string
		routes, v6 int
	}{
		{"ipasn_20140513.dat.gz", 512_621, 0},
		{"ipasn6_20151101.dat.gz", 606_138 + 27_693, 27_693},
	} {
		t.Run(tc.file, func(t *testing.T) {
			v6 := 0
			st, err := ReadFile(filepath.Join(dir, tc.file), func(r Route) error {
				if err := r.Validate(); err != nil {
					return err
				}
				if r.Prefix.Addr().Is6() {
					v6++
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if st.Routes != tc.routes || v6 != tc.v6 || st.Truncated || st.Compression != CompressionGzip {
				t.Fatalf("stats = %+v, %d IPv6; want %d routes, %d IPv6", st, v6, tc.routes, tc.v6)
			}
		})
	}
}
