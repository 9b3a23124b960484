package bgp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	gobgp "github.com/osrg/gobgp/v4/pkg/packet/bgp"
	"github.com/osrg/gobgp/v4/pkg/packet/mrt"
)

var roundTripRoutes = []Route{
	{mustPrefix("1.0.0.0/24"), 15169},
	{mustPrefix("8.0.0.0/8"), 3356},
	{mustPrefix("192.0.2.0/25"), 64500},
	{mustPrefix("198.51.100.7/32"), 4200000000},
	{mustPrefix("203.0.113.0/24"), 23456},
	{mustPrefix("128.0.0.0/1"), 1},
	{mustPrefix("2001:db8::/32"), 65551},
	{mustPrefix("2001:db8:1234::/48"), 4294967295},
	{mustPrefix("2001:db8:1234:5678::/64"), 2500},
	{mustPrefix("2001:db8::1/128"), 174},
	{mustPrefix("8000::/1"), 6939},
	{mustPrefix("10.0.0.0/8"), 64496}, // the peer itself in TestWriteMRTRoundTrip
}

func TestWriteMRTRoundTrip(t *testing.T) {
	ts := time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		peerAS uint32
		peer   string
	}{
		{"v4 peer, 2-byte AS", 64496, "192.0.2.254"},
		{"v4 peer, 4-byte AS", 4200000001, "192.0.2.254"},
		{"v6 peer", 64496, "2001:db8::fe"},
		{"v4-mapped peer", 64496, "::ffff:192.0.2.254"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteMRT(&buf, roundTripRoutes, ts, tc.peerAS, netip.MustParseAddr(tc.peer)); err != nil {
				t.Fatal(err)
			}
			got, fn := collect()
			st, err := ParseMRT(bytes.NewReader(buf.Bytes()), fn)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(*got, roundTripRoutes) {
				t.Fatalf("round trip =\n%v\nwant\n%v", *got, roundTripRoutes)
			}
			want := Stats{Format: FormatMRT, Routes: len(roundTripRoutes), Records: len(roundTripRoutes) + 1, Peers: 1, Time: ts}
			if st != want {
				t.Fatalf("stats = %+v, want %+v", st, want)
			}
			checkWrittenMRT(t, buf.Bytes(), tc.peerAS, netip.MustParseAddr(tc.peer).Unmap())
		})
	}
}

// checkWrittenMRT decodes a WriteMRT dump with gobgp record by record and
// checks what WriteMRT promises beyond the routes: the peer table, sequence
// numbers, the AS_PATH and next hop attributes.
func checkWrittenMRT(t *testing.T, data []byte, peerAS uint32, peer netip.Addr) {
	t.Helper()
	for i := 0; len(data) > 0; i++ {
		h, err := mrt.ParseHeader(data)
		if err != nil {
			t.Fatal(err)
		}
		body := data[mrtHeaderLen : mrtHeaderLen+h.Len]
		data = data[mrtHeaderLen+h.Len:]
		msg, err := mrt.ParseBody(body, h)
		if err != nil {
			t.Fatalf("record %d: gobgp: %v", i, err)
		}
		if i == 0 {
			pit, ok := msg.Body.(*mrt.PeerIndexTable)
			if !ok || len(pit.Peers) != 1 || pit.Peers[0].AS != peerAS || pit.Peers[0].IpAddress != peer {
				t.Fatalf("record 0 = %v, want a PEER_INDEX_TABLE with peer AS%d %v", msg.Body, peerAS, peer)
			}
			continue
		}
		rib := msg.Body.(*mrt.Rib)
		r := roundTripRoutes[i-1]
		if rib.SequenceNumber != uint32(i-1) || len(rib.Entries) != 1 {
			t.Fatalf("record %d: seq %d with %d entries, want seq %d with 1", i, rib.SequenceNumber, len(rib.Entries), i-1)
		}
		var types []gobgp.BGPAttrType
		for _, a := range rib.Entries[0].PathAttributes {
			types = append(types, a.GetType())
			switch a := a.(type) {
			case *gobgp.PathAttributeOrigin:
				if a.Value != gobgp.BGP_ORIGIN_ATTR_TYPE_IGP {
					t.Errorf("record %d: ORIGIN %d, want IGP", i, a.Value)
				}
			case *gobgp.PathAttributeAsPath:
				want := []uint32{peerAS, r.ASN}
				if peerAS == r.ASN {
					want = want[1:]
				}
				if len(a.Value) != 1 || a.Value[0].GetType() != gobgp.BGP_ASPATH_ATTR_TYPE_SEQ || !slices.Equal(a.Value[0].GetAS(), want) {
					t.Errorf("record %d: AS_PATH %v, want AS_SEQUENCE %v", i, a, want)
				}
			case *gobgp.PathAttributeNextHop:
				if a.Value != peer || !r.Prefix.Addr().Is4() {
					t.Errorf("record %d (%v): NEXT_HOP %v, want %v", i, r, a.Value, peer)
				}
			case *gobgp.PathAttributeMpReachNLRI:
				if a.Nexthop.Unmap() != peer || (r.Prefix.Addr().Is4() && peer.Is4()) {
					t.Errorf("record %d (%v): MP_REACH_NLRI next hop %v, want %v", i, r, a.Nexthop, peer)
				}
			}
		}
		if len(types) != 3 || types[0] != gobgp.BGP_ATTR_TYPE_ORIGIN || types[1] != gobgp.BGP_ATTR_TYPE_AS_PATH {
			t.Errorf("record %d: attributes %v, want ORIGIN, AS_PATH, next hop", i, types)
		}
	}
}

func TestWriteMRTErrors(t *testing.T) {
	ts := time.Unix(testTime, 0)
	peer := netip.MustParseAddr("192.0.2.1")
	good := []Route{{mustPrefix("192.0.2.0/24"), 1}}
	for _, tc := range []struct {
		name   string
		routes []Route
		t      time.Time
		peerAS uint32
		peer   netip.Addr
		err    string
	}{
		{"peer AS 0", good, ts, 0, peer, "peer AS 0"},
		{"no peer address", good, ts, 1, netip.Addr{}, "bad peer address"},
		{"zoned peer address", good, ts, 1, netip.MustParseAddr("fe80::1%eth0"), "bad peer address"},
		{"time before 1970", good, time.Unix(-1, 0), 1, peer, "does not fit"},
		{"time after 2106", good, time.Unix(1<<32, 0), 1, peer, "does not fit"},
		{"invalid route", append(good, Route{}), ts, 1, peer, "route 1: invalid prefix"},
		{"host bits", append(good, Route{netip.MustParsePrefix("10.0.0.1/8"), 1}), ts, 1, peer, "route 1: prefix 10.0.0.1/8 has host bits set"},
		{"ASN 0", append(good, Route{mustPrefix("10.0.0.0/8"), 0}), ts, 1, peer, "route 1: prefix 10.0.0.0/8: ASN 0 is reserved"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := WriteMRT(io.Discard, tc.routes, tc.t, tc.peerAS, tc.peer)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("WriteMRT error = %v, want %q", err, tc.err)
			}
		})
	}
	boom := errors.New("boom")
	if err := WriteMRT(errWriter{boom}, good, ts, 1, peer); !errors.Is(err, boom) {
		t.Fatalf("WriteMRT to a failing writer: %v, want boom", err)
	}
}

// TestWriteMRTCut: a written dump cut anywhere gives no error, the routes of
// its complete records, and Truncated unless the cut fell between records.
func TestWriteMRTCut(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteMRT(&buf, roundTripRoutes, time.Unix(testTime, 0), 64496, netip.MustParseAddr("2001:db8::fe")); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	ends := map[int]int{} // record end offset → routes before it
	for off, n := 0, -1; off < len(data); n++ {
		off += mrtHeaderLen + int(binary.BigEndian.Uint32(data[off+8:]))
		ends[off] = n + 1
	}
	ends[0] = 0
	for i := range len(data) + 1 {
		got, fn := collect()
		st, err := ParseMRT(bytes.NewReader(data[:i]), fn)
		if err != nil {
			t.Fatalf("cut at %d: %v", i, err)
		}
		n, boundary := ends[i]
		if st.Truncated == boundary {
			t.Fatalf("cut at %d: Truncated = %v", i, st.Truncated)
		}
		if !slices.Equal(*got, roundTripRoutes[:len(*got)]) || (boundary && len(*got) != n) {
			t.Fatalf("cut at %d: got %v", i, *got)
		}
		// The same cut seen as a compressed stream failing mid-way.
		got2, fn2 := collect()
		st2, err := ParseMRT(io.MultiReader(bytes.NewReader(data[:i]), iotest.ErrReader(io.ErrUnexpectedEOF)), fn2)
		if err != nil || !st2.Truncated || !slices.Equal(*got2, *got) {
			t.Fatalf("cut at %d with io.ErrUnexpectedEOF: %v, %+v, %v", i, err, st2, *got2)
		}
	}
}

// originCases are hand-built RIB records after a 2-peer PEER_INDEX_TABLE:
// the origin rule, the AS_SET choice and what is skipped. want is "prefix
// asn" or "" for a skipped record.
var originCases = []struct {
	name   string
	record []byte
	want   string
	asSet  bool
}{
	{"sequence", ribRecord(0, mustPrefix("192.0.2.0/24"), pathEntry(3356, 174, 64500)), "192.0.2.0/24 64500", false},
	{"ipv6", ribRecord(0, mustPrefix("2001:db8::/32"), ribEntry(1, originIGP, asPath(seg{2, []uint32{6939, 2500}}))), "2001:db8::/32 2500", false},
	{"prepending", ribRecord(0, mustPrefix("192.0.2.0/24"), pathEntry(3356, 64500, 64500, 64500)), "192.0.2.0/24 64500", false},
	{"4-byte origin", ribRecord(0, mustPrefix("192.0.2.0/24"), pathEntry(3356, 4200000000)), "192.0.2.0/24 4200000000", false},
	{"only the first entry counts", ribRecord(0, mustPrefix("192.0.2.0/24"), pathEntry(3356, 1), pathEntry(174, 2)), "192.0.2.0/24 1", false},
	{"trailing AS_SET: smallest", ribRecord(0, mustPrefix("192.0.2.0/24"),
		ribEntry(0, asPath(seg{2, []uint32{3356, 64496}}, seg{1, []uint32{65001, 64512, 65000}}))), "192.0.2.0/24 64512", true},
	{"AS_SET then AS_SEQUENCE", ribRecord(0, mustPrefix("192.0.2.0/24"),
		ribEntry(0, asPath(seg{2, []uint32{3356}}, seg{1, []uint32{7, 8}}, seg{2, []uint32{64500}}))), "192.0.2.0/24 64500", false},
	{"confederation segments ignored", ribRecord(0, mustPrefix("192.0.2.0/24"),
		ribEntry(0, asPath(seg{3, []uint32{65000}}, seg{2, []uint32{3356, 64500}}, seg{4, []uint32{65001}}))), "192.0.2.0/24 64500", false},
	{"no AS_PATH: next entry", ribRecord(0, mustPrefix("192.0.2.0/24"), ribEntry(0, originIGP), pathEntry(174, 64501)), "192.0.2.0/24 64501", false},
	{"empty AS_PATH: next entry", ribRecord(0, mustPrefix("192.0.2.0/24"), ribEntry(0, originIGP, attr(0x40, 2, nil)), pathEntry(174, 64502)), "192.0.2.0/24 64502", false},
	{"origin AS 0: next entry", ribRecord(0, mustPrefix("192.0.2.0/24"), pathEntry(3356, 0), pathEntry(174, 64503)), "192.0.2.0/24 64503", false},
	{"only confederation: skipped", ribRecord(0, mustPrefix("192.0.2.0/24"), ribEntry(0, asPath(seg{3, []uint32{65000}}))), "", false},
	{"no usable entry: skipped", ribRecord(0, mustPrefix("192.0.2.0/24"), ribEntry(0, originIGP), pathEntry(3356, 0)), "", false},
	{"no entries: skipped", ribRecord(0, mustPrefix("192.0.2.0/24")), "", false},
	{"default route v4: skipped", ribRecord(0, mustPrefix("0.0.0.0/0"), pathEntry(3356)), "", false},
	{"default route v6: skipped", ribRecord(0, mustPrefix("::/0"), pathEntry(3356)), "", false},
	{"host route", ribRecord(0, mustPrefix("192.0.2.1/32"), pathEntry(64500)), "192.0.2.1/32 64500", false},
	{"stray host bits are masked", func() []byte {
		b := ribRecord(0, mustPrefix("192.0.2.0/23"), pathEntry(64500))
		b[mrtHeaderLen+4+1+2] |= 1 // 192.0.3.0/23
		return b
	}(), "192.0.2.0/23 64500", false},
	{"unknown attributes pass", ribRecord(0, mustPrefix("192.0.2.0/24"), ribEntry(0, attr(0xc0, 200, []byte{1, 2, 3}), asPath(seg{2, []uint32{64500}}))), "192.0.2.0/24 64500", false},
}

func TestParseMRTOrigin(t *testing.T) {
	for _, tc := range originCases {
		t.Run(tc.name, func(t *testing.T) {
			got, fn := collect()
			st, err := ParseMRT(bytes.NewReader(cat(pitRecord(2), tc.record)), fn)
			if err != nil {
				t.Fatal(err)
			}
			want := parseWant(tc.want)
			if !slices.Equal(*got, want) {
				t.Fatalf("routes = %v, want %v", *got, want)
			}
			wantSkipped, wantSets := 1-len(want), 0
			if tc.asSet {
				wantSets = 1
			}
			if st.Skipped != wantSkipped || st.ASSets != wantSets || st.Records != 2 || st.Peers != 2 {
				t.Fatalf("stats = %+v, want %d skipped, %d AS sets", st, wantSkipped, wantSets)
			}
		})
	}
}

// TestParseMRTSkips: other record types and subtypes are skipped and counted.
func TestParseMRTSkips(t *testing.T) {
	in := cat(
		pitRecord(1),
		mrtRecord(13, 3, []byte("multicast: not parsed")),
		mrtRecord(13, 8, []byte("add-path: not parsed")),
		mrtRecord(13, 6, nil),
		mrtRecord(16, 4, []byte("BGP4MP update")),
		mrtRecord(17, 4, []byte("BGP4MP_ET update")),
		mrtRecord(12, 1, []byte("TABLE_DUMP v1")),
		ribRecord(0, mustPrefix("192.0.2.0/24"), pathEntry(64500)),
		mrtRecord(13, 7, []byte{1, 2, 3}),
	)
	got, fn := collect()
	st, err := ParseMRT(bytes.NewReader(in), fn)
	if err != nil {
		t.Fatal(err)
	}
	if len(*got) != 1 || st.Skipped != 7 || st.Records != 9 || st.Truncated {
		t.Fatalf("routes %v, stats %+v; want 1 route, 7 skipped of 9 records", *got, st)
	}
}

// mrtErrorCases are damaged dumps: each must give an error containing err,
// and must never panic. They seed FuzzParseMRT.
var mrtErrorCases = []struct {
	name string
	in   []byte
	err  string
}{
	{"random bytes", randomBytes(1, 256), "mrt record 1 (type 51879 subtype 41370) at byte 0: unknown MRT type 51879 (not an MRT dump?)"},
	{"text", []byte("1.0.0.0/24\t15169\n2.0.0.0/8\t3215\n"), "mrt record 1 (type 12334 subtype 12335) at byte 0: unknown MRT type 12334 (not an MRT dump?)"},
	{"unknown type", cat(pitRecord(1), mrtRecord(99, 1, nil)), "mrt record 2 (type 99 subtype 1) at byte 33: unknown MRT type 99"},
	{"unknown subtype", cat(pitRecord(1), mrtRecord(13, 13, nil)), "mrt record 2 (TABLE_DUMP_V2 subtype 13) at byte 33: unknown TABLE_DUMP_V2 subtype 13"},
	{"RIB before peer table", ribRecord(0, mustPrefix("192.0.2.0/24"), pathEntry(1)), "mrt record 1 (RIB_IPV4_UNICAST) at byte 0: RIB record before the PEER_INDEX_TABLE"},
	{"peer table too short", mrtRecord(13, 1, []byte{1, 2, 3}), "mrt record 1 (PEER_INDEX_TABLE) at byte 0: not all PeerIndexTable bytes are available"},
	{"peer table length too short", func() []byte {
		b := pitRecord(2)
		binary.BigEndian.PutUint32(b[8:], uint32(len(b)-mrtHeaderLen-5))
		return b
	}(), "mrt record 1 (PEER_INDEX_TABLE) at byte 0: not all Peer bytes are available"},
	{"RIB length one too long", func() []byte {
		b := ribRecord(0, mustPrefix("192.0.2.0/24"), pathEntry(1))
		binary.BigEndian.PutUint32(b[8:], binary.BigEndian.Uint32(b[8:])+1)
		return cat(pitRecord(1), b, ribRecord(1, mustPrefix("198.51.100.0/24"), pathEntry(2)))
	}(), "mrt record 2 (RIB_IPV4_UNICAST) at byte 33: 1 bytes after the last of 1 entries"},
	{"RIB length one too short", func() []byte {
		b := ribRecord(0, mustPrefix("192.0.2.0/24"), pathEntry(1))
		binary.BigEndian.PutUint32(b[8:], binary.BigEndian.Uint32(b[8:])-1)
		return cat(pitRecord(1), b)
	}(), "mrt record 2 (RIB_IPV4_UNICAST) at byte 33: entry 0 of 1: attributes run past the end of the record"},
	{"length beyond the limit", cat(pitRecord(1), mrtRecord(13, 2, nil)[:8], []byte{0xff, 0xff, 0xff, 0xff}), "mrt record 2 (RIB_IPV4_UNICAST) at byte 33: length 4294967295 exceeds the limit"},
	{"entry count too high", func() []byte {
		b := ribRecord(0, mustPrefix("192.0.2.0/24"), pathEntry(1))
		b[mrtHeaderLen+4+1+3+1]++ // 2 entries announced, 1 present
		return cat(pitRecord(1), b)
	}(), "entry 1 of 2: header runs past the end of the record"},
	{"RIB too short", cat(pitRecord(1), mrtRecord(13, 2, []byte{0, 0, 0, 1})), "record of 4 bytes is too short for a prefix"},
	{"RIB too short for prefix", cat(pitRecord(1), mrtRecord(13, 2, []byte{0, 0, 0, 1, 24, 192, 0})), "too short for a /24 prefix and an entry count"},
	{"v4 prefix longer than 32", cat(pitRecord(1), mrtRecord(13, 2, append([]byte{0, 0, 0, 1, 40, 1, 2, 3, 4, 5, 0, 1}, pathEntry(1)...))), "entry 0: network bit length is too long"},
	{"peer index out of range", cat(pitRecord(1), ribRecord(0, mustPrefix("192.0.2.0/24"), ribEntry(1, asPath(seg{2, []uint32{1}})))), "prefix 192.0.2.0/24: entry 0: peer index 1 out of range (1 peers)"},
	{"malformed AS_PATH", cat(pitRecord(1), ribRecord(0, mustPrefix("192.0.2.0/24"), ribEntry(0, attr(0x40, 2, []byte{2, 3, 0, 0, 0, 1})))), "mrt record 2 (RIB_IPV4_UNICAST) at byte 33: entry 0: seg length is short"},
	{"bad AS_PATH segment type", cat(pitRecord(1), ribRecord(0, mustPrefix("192.0.2.0/24"), ribEntry(0, asPath(seg{9, []uint32{1}})))), "entry 0: unknown AS_PATH seg type"},
	{"attribute past its entry", cat(pitRecord(1), ribRecord(0, mustPrefix("192.0.2.0/24"), ribEntry(0, []byte{0x40, 2, 200, 2, 1}))), "entry 0: attribute value length is short"},
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestParseMRTErrors(t *testing.T) {
	for _, tc := range mrtErrorCases {
		t.Run(tc.name, func(t *testing.T) {
			got, fn := collect()
			_, err := ParseMRT(bytes.NewReader(tc.in), fn)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("ParseMRT error = %v, want %q", err, tc.err)
			}
			checkRoutes(t, *got)
		})
	}
}

// TestParseMRTGarbage: random inputs, and random damage to a valid dump,
// give errors or routes but never a panic or an invalid route.
func TestParseMRTGarbage(t *testing.T) {
	var dump bytes.Buffer
	if err := WriteMRT(&dump, roundTripRoutes, time.Unix(testTime, 0), 64496, netip.MustParseAddr("192.0.2.254")); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 7))
	for i := range 2000 {
		var in []byte
		if i%2 == 0 {
			in = randomBytes(uint64(i), r.IntN(512))
		} else {
			in = bytes.Clone(dump.Bytes())
			for range 1 + r.IntN(4) {
				in[r.IntN(len(in))] = byte(r.Uint32())
			}
		}
		got, fn := collect()
		if _, err := ParseMRT(bytes.NewReader(in), fn); err != nil && !strings.HasPrefix(err.Error(), "mrt record ") {
			t.Fatalf("input %d: error %q does not name the record", i, err)
		}
		checkRoutes(t, *got)
	}
}

// TestParseMRTAttributeGarbage puts random values of every path attribute
// type in front of a good AS_PATH: gobgp's decoders must give errors or
// routes, and no panic may escape.
func TestParseMRTAttributeGarbage(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for typ := range 256 {
		for range 20 {
			v := randomBytes(r.Uint64(), r.IntN(40))
			for j := range v {
				if r.IntN(3) == 0 {
					v[j] = byte(r.IntN(4)) // small counts and lengths
				}
			}
			flags := []byte{0x40, 0x80, 0xc0}[r.IntN(3)]
			in := cat(pitRecord(1), ribRecord(0, mustPrefix("192.0.2.0/24"), ribEntry(0, attr(flags, byte(typ), v), asPath(seg{2, []uint32{64500}}))))
			got, fn := collect()
			if _, err := ParseMRT(bytes.NewReader(in), fn); err != nil && !strings.HasPrefix(err.Error(), "mrt record 2 (RIB_IPV4_UNICAST) at byte 33: entry 0: ") {
				t.Fatalf("attribute type %d % x: error %q does not name the record and entry", typ, v, err)
			}
			checkRoutes(t, *got)
		}
	}
}

// TestParseMRTGoBGPPanic: a panic in gobgp's parser is an error naming the
// record, not a crash.
func TestParseMRTGoBGPPanic(t *testing.T) {
	defer func(f func([]byte, *mrt.MRTHeader) (*mrt.MRTMessage, error)) { mrtParseBody = f }(mrtParseBody)
	mrtParseBody = func(data []byte, h *mrt.MRTHeader) (*mrt.MRTMessage, error) {
		if h.SubType == uint16(mrt.RIB_IPV4_UNICAST) {
			_ = data[len(data)+1] // index out of range
		}
		return mrt.ParseBody(data, h)
	}
	in := cat(pitRecord(1), ribRecord(0, mustPrefix("192.0.2.0/24"), pathEntry(1)))
	_, err := ParseMRT(bytes.NewReader(in), func(Route) error { return nil })
	const want = "mrt record 2 (RIB_IPV4_UNICAST) at byte 33: entry 0: malformed record: gobgp parser panicked: runtime error: index out of range"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("err = %v, want %q", err, want)
	}
}

func TestParseMRTCallbackError(t *testing.T) {
	stop := errors.New("stop")
	in := cat(pitRecord(1), ribRecord(0, mustPrefix("192.0.2.0/24"), pathEntry(1)), ribRecord(1, mustPrefix("198.51.100.0/24"), pathEntry(2)))
	st, err := ParseMRT(bytes.NewReader(in), func(Route) error { return stop })
	if err != stop { //nolint:errorlint // the very error, unwrapped
		t.Fatalf("err = %v, want the callback's error unchanged", err)
	}
	if st.Routes != 0 {
		t.Fatalf("Routes = %d, want 0", st.Routes)
	}
}

func TestParseMRTReadError(t *testing.T) {
	boom := errors.New("boom")
	in := cat(pitRecord(1), ribRecord(0, mustPrefix("192.0.2.0/24"), pathEntry(1)))
	for _, tc := range []struct {
		cut  int
		want string
	}{
		{40, "mrt record 2 at byte 33: reading header: boom"},
		{len(in) - 3, "mrt record 2 (RIB_IPV4_UNICAST) at byte 33: reading body: boom"},
		{len(in), "mrt record 3 at byte 83: reading header: boom"},
	} {
		_, err := ParseMRT(io.MultiReader(bytes.NewReader(in[:tc.cut]), iotest.ErrReader(boom)), func(Route) error { return nil })
		if !errors.Is(err, boom) || err.Error() != tc.want {
			t.Fatalf("cut at %d: err = %v, want %s", tc.cut, err, tc.want)
		}
	}
}

// mrtFragments are the real cut-short dumps in testdata.
var mrtFragments = []struct {
	file          string
	peers         int
	time          string
	v6            bool
	routes        int
	first         string
	skipped, sets int
}{
	{"rib.20140523.0600_first64KiB.bz2", 47, "2014-05-23T06:00:00Z", false, 525, "1.0.0.0/24 15169", 1, 0},
	{"rib6.20151101.0600_first80KiB.bz2", 29, "2015-11-01T06:00:00Z", true, 525, "2001::/32 1101", 0, 1},
}

func TestMRTTestdata(t *testing.T) {
	for _, tc := range mrtFragments {
		t.Run(tc.file, func(t *testing.T) {
			got, fn := collect()
			st, err := ReadFile(filepath.Join("testdata", tc.file), fn)
			if err != nil {
				t.Fatal(err)
			}
			checkRoutes(t, *got)
			if !st.Truncated || st.Format != FormatMRT || st.Compression != CompressionBzip2 {
				t.Fatalf("stats = %+v, want a truncated bzip2 MRT dump", st)
			}
			if st.Routes != tc.routes || len(*got) != tc.routes || st.Peers != tc.peers || st.Time.Format(time.RFC3339) != tc.time {
				t.Fatalf("stats = %+v, want %d routes, %d peers at %s", st, tc.routes, tc.peers, tc.time)
			}
			if st.Skipped != tc.skipped || st.ASSets != tc.sets || st.Records != st.Routes+st.Skipped+1 {
				t.Fatalf("stats = %+v, want %d skipped, %d AS sets", st, tc.skipped, tc.sets)
			}
			if want := parseWant(tc.first)[0]; (*got)[0] != want {
				t.Fatalf("first route %v, want %v", (*got)[0], want)
			}
			seen := map[netip.Prefix]bool{}
			for _, r := range *got {
				if r.Prefix.Addr().Is6() != tc.v6 {
					t.Fatalf("route %v in a dump of IPv6 = %v", r, tc.v6)
				}
				if seen[r.Prefix] {
					t.Fatalf("prefix %v twice", r.Prefix)
				}
				seen[r.Prefix] = true
			}
		})
	}
}

// TestMRTAgainstGoBGP checks the entry-framing parser against the slow
// obviously-correct way: gobgp's mrt.ParseBody on each whole record, then the
// origin of the first entry that has one.
func TestMRTAgainstGoBGP(t *testing.T) {
	for _, f := range mrtFragments {
		t.Run(f.file, func(t *testing.T) {
			data := decompressed(t, f.file)
			got, fn := collect()
			if _, err := ParseMRT(bytes.NewReader(data), fn); err != nil {
				t.Fatal(err)
			}
			want := referenceMRT(t, data)
			if !slices.Equal(*got, want) {
				t.Fatalf("ParseMRT gave %d routes, gobgp reference %d; first difference at %s", len(*got), len(want), firstDiff(*got, want))
			}
		})
	}
}

func referenceMRT(t *testing.T, data []byte) []Route {
	t.Helper()
	var out []Route
	for len(data) >= mrtHeaderLen {
		h, err := mrt.ParseHeader(data)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) < mrtHeaderLen+int(h.Len) {
			break // the cut record
		}
		body := data[mrtHeaderLen : mrtHeaderLen+h.Len]
		data = data[mrtHeaderLen+h.Len:]
		msg, err := mrt.ParseBody(body, h)
		if err != nil {
			t.Fatal(err)
		}
		rib, ok := msg.Body.(*mrt.Rib)
		if !ok {
			continue
		}
		p := rib.Prefix.(*gobgp.IPAddrPrefix).Prefix
		if p.Bits() == 0 {
			continue
		}
		for _, e := range rib.Entries {
			if asn, _ := originAS(e.PathAttributes); asn != 0 {
				out = append(out, Route{p, asn})
				break
			}
		}
	}
	return out
}

func firstDiff(a, b []Route) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("%d: %v vs %v", i, a[i], b[i])
		}
	}
	return fmt.Sprint(min(len(a), len(b)))
}

// TestMRTRaw reads the first MB of the real dumps, when available, and
// compares their origins with pyasn's tables of nearby dates.
func TestMRTRaw(t *testing.T) {
	for _, tc := range []struct {
		rib, pyasn string
		minRoutes  int
		minSame    float64
	}{
		// pyasn of 10 days earlier, same collector.
		{"rib.20140523.0600_firstMB.bz2", "ipasn_20140513.dat.gz", 9000, 0.97},
		// pyasn of the same day, from a combined v6+v4 dump: anycast and
		// multi-origin prefixes differ more.
		{"rib6.20151101.0600_firstMB.bz2", "ipasn6_20151101.dat.gz", 6500, 0.90},
	} {
		t.Run(tc.rib, func(t *testing.T) {
			dir := rawDir(t, tc.rib, tc.pyasn)
			ref := map[netip.Prefix]uint32{}
			if _, err := ReadFile(filepath.Join(dir, tc.pyasn), func(r Route) error {
				ref[r.Prefix] = r.ASN
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			var same, differ, absent int
			st, err := ReadFile(filepath.Join(dir, tc.rib), func(r Route) error {
				if err := r.Validate(); err != nil {
					return err
				}
				switch asn, ok := ref[r.Prefix]; {
				case !ok:
					absent++
				case asn == r.ASN:
					same++
				default:
					differ++
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !st.Truncated || st.Routes < tc.minRoutes {
				t.Fatalf("stats = %+v, want a truncated dump of ≥ %d routes", st, tc.minRoutes)
			}
			if frac := float64(same) / float64(same+differ); frac < tc.minSame {
				t.Fatalf("origin agrees with pyasn for %.3f of %d prefixes, want ≥ %.2f", frac, same+differ, tc.minSame)
			}
			t.Logf("%+v; vs pyasn: %d same origin, %d different, %d prefixes not in pyasn", st, same, differ, absent)
		})
	}
}
