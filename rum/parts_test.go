package rum

import (
	"math"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/popmap"
)

// timeCases seed FuzzParseTime; each either parses with both parseTime and
// time.Parse(time.RFC3339Nano) or is rejected by parseTime.
var timeCases = []string{
	"2026-11-21T10:00:00.123Z", "2026-11-21T10:00:00Z", "2026-11-21T10:00:00.123456789Z", "2026-11-21T10:00:00.1234567891234Z",
	"2026-11-21T10:00:00+02:00", "2026-11-21T10:00:00.5-09:30", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z",
	"2000-02-29T12:00:00Z", "1900-02-29T12:00:00Z", "2026-11-21T10:00:00+23:59", "2026-11-21T10:00:00-00:00",
	"2026-11-21T10:00:00", "2026-11-21t10:00:00Z", "2026-11-21T10:00:00.Z", "2026-11-21T10:00:60Z", "2026-11-21T24:00:00Z",
	"2026-11-21T10:00:00+24:00", "2026-11-21T10:00:00+02:60", "2026-1-21T10:00:00Z", "+026-11-21T10:00:00Z", "2026-11-21T10:00:00,5Z",
}

func TestParseTimeMatchesTimeParse(t *testing.T) {
	for _, s := range timeCases {
		checkTime(t, s)
	}
	// Random valid times, in every form appendTime writes.
	r := rand.New(rand.NewPCG(9, 10))
	for range 10000 {
		tm := time.Unix(r.Int64N(253402300800)-62135596800, r.Int64N(1e9)).UTC() // years 1..9999
		for _, s := range []string{tm.Format(time.RFC3339Nano), tm.In(time.FixedZone("", (r.IntN(48)-24)*1800)).Format(time.RFC3339Nano),
			string(appendTime(nil, tm, false))} {
			got, why := parseTime([]byte(s), nil)
			if why != "" || !got.Equal(tm) {
				t.Fatalf("parseTime(%q) = %v, %q, want %v", s, got, why, tm)
			}
		}
	}
}

// checkTime: whenever parseTime accepts s, time.Parse does too and agrees;
// parsing with a day cache gives the same result as without.
func checkTime(t *testing.T, s string) {
	t.Helper()
	got, why := parseTime([]byte(s), nil)
	var c dayCache
	got2, why2 := parseTime([]byte(s), &c)
	got3, why3 := parseTime([]byte(s), &c)
	if got != got2 || got != got3 || why != why2 || why != why3 {
		t.Fatalf("parseTime(%q) with a cache = %v %q / %v %q, without %v %q", s, got2, why2, got3, why3, got, why)
	}
	if why != "" {
		return
	}
	want, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("parseTime(%q) = %v, but time.Parse: %v", s, got, err)
	}
	if !got.Equal(want) || got.Location() != time.UTC {
		t.Fatalf("parseTime(%q) = %v, time.Parse = %v", s, got, want)
	}
}

// TestDayCacheMiss: a cached date does not leak into a different one.
func TestDayCacheMiss(t *testing.T) {
	var c dayCache
	for _, s := range []string{"2026-11-21T10:00:00Z", "2026-11-22T10:00:00Z", "2026-11-31T10:00:00Z", "2026-11-21T10:00:00Z"} {
		got, why := parseTime([]byte(s), &c)
		want, err := time.Parse(time.RFC3339, s)
		if (err != nil) != (why != "") || (err == nil && !got.Equal(want)) {
			t.Errorf("parseTime(%q) = %v %q, time.Parse = %v %v", s, got, why, want, err)
		}
	}
}

func TestAppendTime(t *testing.T) {
	for _, c := range []struct {
		t      time.Time
		millis bool
		want   string
	}{
		{time.Date(2026, 11, 21, 10, 0, 0, 123e6, time.UTC), false, "2026-11-21T10:00:00.123Z"},
		{time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC), false, "2026-11-21T10:00:00.000Z"},
		{time.Date(2026, 11, 21, 10, 0, 0, 123456e3, time.UTC), false, "2026-11-21T10:00:00.123456Z"},
		{time.Date(2026, 11, 21, 10, 0, 0, 123456789, time.UTC), false, "2026-11-21T10:00:00.123456789Z"},
		{time.Date(2026, 11, 21, 10, 0, 0, 123456789, time.UTC), true, "2026-11-21T10:00:00.123Z"},
		{time.Date(2026, 11, 21, 12, 0, 0, 0, time.FixedZone("", 7200)), false, "2026-11-21T10:00:00.000Z"},
		{time.Date(1969, 12, 31, 23, 59, 59, 999e6, time.UTC), false, "1969-12-31T23:59:59.999Z"},
		{time.Time{}, false, "0001-01-01T00:00:00.000Z"},
		{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), false, "10000-01-01T00:00:00.000Z"},
		{time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), false, "-0001-01-01T00:00:00.000Z"},
	} {
		if got := string(appendTime(nil, c.t, c.millis)); got != c.want {
			t.Errorf("appendTime(%v, %v) = %s, want %s", c.t, c.millis, got, c.want)
		}
	}
	// The query log's format, exactly, for any time.
	r := rand.New(rand.NewPCG(11, 12))
	for range 10000 {
		tm := time.Unix(r.Int64N(400000000000)-200000000000, r.Int64N(1e9))
		got := string(appendTime(nil, tm, true))
		want := tm.UTC().Format("2006-01-02T15:04:05.000Z")
		if got != want {
			t.Fatalf("appendTime(%v, millis) = %s, want %s", tm, got, want)
		}
	}
}

func TestFastFloat(t *testing.T) {
	for _, s := range floatCases {
		checkFloat(t, s)
	}
	r := rand.New(rand.NewPCG(13, 14))
	for range 100000 {
		f := math.Round(r.Float64()*1e6) / math.Pow10(r.IntN(10))
		checkFloat(t, strconv.FormatFloat(f, 'f', -1, 64))
	}
}

var floatCases = []string{"0", "-0", "23.4", "31", "0.1", "0.0000000000000000000001", "123456789012345", "1234567890123456",
	"999999999999999.9", "4.35", "1e5", "0.30000000000000004", "9007199254740993", "100000000000000000000000"}

// checkFloat: fastFloat, when it takes a token, agrees bit for bit with
// strconv.ParseFloat.
func checkFloat(t *testing.T, s string) {
	t.Helper()
	got, ok := fastFloat([]byte(s))
	if !ok {
		return
	}
	want, err := strconv.ParseFloat(s, 64)
	if err != nil || math.Float64bits(got) != math.Float64bits(want) {
		t.Fatalf("fastFloat(%q) = %v, strconv.ParseFloat = %v, %v", s, got, want, err)
	}
}

var prefixCases = []string{"10.0.0.0/8", "203.0.113.0/24", "0.0.0.0/0", "255.255.255.255/32", "01.0.0.0/8", "1.2.3.4/33",
	"1.2.3.0/024", "1.2.3.4/24", "256.0.0.0/8", "1.2.3/24", "1.2.3.0/", "1.2.3.0/24/", "1.2.3.0 /24"}

func TestParseIPv4Prefix(t *testing.T) {
	for _, s := range prefixCases {
		checkIPv4Prefix(t, s)
	}
}

// checkIPv4Prefix: the fast path agrees with netip.ParsePrefix whenever it
// accepts, and accepts every masked IPv4 prefix netip accepts.
func checkIPv4Prefix(t *testing.T, s string) {
	t.Helper()
	got, ok := parseIPv4Prefix([]byte(s))
	want, err := netip.ParsePrefix(s)
	if ok && (err != nil || want != got || want.Masked() != want) {
		t.Fatalf("parseIPv4Prefix(%q) = %v, netip says %v, %v", s, got, want, err)
	}
	if !ok && err == nil && want.Addr().Is4() && want.Masked() == want {
		t.Fatalf("parseIPv4Prefix(%q) rejects what netip takes: %v", s, want)
	}
}

var labelCases = []string{"fra", "fra-2", "a", "0", "-", "anycast", "", "FRA", "Fra", "fra.1", "fra_1", "fra ", "é",
	"abcdefghijklmnopqrstuvwxyz012345", "abcdefghijklmnopqrstuvwxyz0123456"}

// TestLabelRuleMatchesConfig: a target or served_by label is valid exactly
// when the config would accept it as a PoP label, "anycast" aside.
func TestLabelRuleMatchesConfig(t *testing.T) {
	check := func(s string) {
		got := validLabel([]byte(s)) && s != Anycast
		want := config.CheckLabel(popmap.Label(s)) == nil
		if got != want {
			t.Fatalf("label %q: valid here = %v, config.CheckLabel ok = %v", s, got, want)
		}
	}
	for _, s := range labelCases {
		check(s)
	}
	if Anycast != string(config.ReservedLabel) {
		t.Errorf("Anycast = %q, config reserves %q", Anycast, config.ReservedLabel)
	}
	r := rand.New(rand.NewPCG(15, 16))
	const alphabet = "abcz09-_.A Z\x00é"
	for range 20000 {
		b := make([]byte, r.IntN(36))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		check(string(b))
	}
}

func TestClientPrefixCapsMatchPopmap(t *testing.T) {
	if _, why := clientPrefix([]byte("203.0.113.0/24")); why != "" {
		t.Error(why)
	}
	if _, why := clientPrefix([]byte("2001:db8::/56")); why != "" {
		t.Error(why)
	}
	if popmap.MaxSource4 != 24 || popmap.MaxSource6 != 56 {
		t.Errorf("popmap caps are /%d and /%d; update the messages in clientPrefix", popmap.MaxSource4, popmap.MaxSource6)
	}
}

func TestAppendString(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"fra", `"fra"`},
		{`a"b\c`, `"a\"b\\c"`},
		{"\x00\x1f\n\r\t", `"\u0000\u001f\n\r\t"`},
		{"é😀", `"é😀"`},
		{"a\xffb\xc3", `"a\ufffdb\ufffd"`},
		{"<&>\u2028", "\"<&>\u2028\""},
	} {
		if got := string(appendString(nil, c.in)); got != c.want {
			t.Errorf("appendString(%q) = %s, want %s", c.in, got, c.want)
		}
	}
	// Printable ASCII: the same bytes as strconv.AppendQuote (the query
	// log's quoting).
	for c := byte(' '); c < 0x7f; c++ {
		s := "a" + string(c) + "b"
		if got, want := string(appendString(nil, s)), strconv.Quote(s); got != want {
			t.Errorf("appendString(%q) = %s, strconv.Quote = %s", s, got, want)
		}
	}
}

func TestInternConcurrent(t *testing.T) {
	done := make(chan bool)
	for g := range 4 {
		go func() {
			for i := range 10000 {
				s := strconv.Itoa((i * (g + 1)) % 3000)
				if got := intern([]byte(s)); got != s {
					t.Errorf("intern(%q) = %q", s, got)
				}
			}
			done <- true
		}()
	}
	for range 4 {
		<-done
	}
}
