package bgp

import (
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rawDir returns the directory of the full raw data files (not in the
// repository), or skips the test: when they are absent, and with -short.
func rawDir(t testing.TB, files ...string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("raw data files: skipped with -short")
	}
	dir := os.Getenv("STEER_RAW_DATA")
	if dir == "" {
		dir = "/work/shared/data/raw"
	}
	for _, f := range files {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Skipf("raw data file %s not available (set STEER_RAW_DATA to the directory holding it): %v", f, err)
		}
	}
	return dir
}

// collect returns fn and the slice it appends to.
func collect() (*[]Route, func(Route) error) {
	var out []Route
	return &out, func(r Route) error {
		out = append(out, r)
		return nil
	}
}

// checkRoutes fails the test for every route that a reader must not return.
func checkRoutes(t testing.TB, routes []Route) {
	t.Helper()
	for i, r := range routes {
		if err := r.Validate(); err != nil {
			t.Fatalf("route %d %v: %v", i, r, err)
		}
	}
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decompressed returns the decompressed contents of a testdata file, as far
// as they go when the stream was cut.
func decompressed(t testing.TB, name string) []byte {
	t.Helper()
	raw := readTestdata(t, name)
	var r io.Reader
	switch {
	case strings.HasSuffix(name, ".bz2"):
		r = bzip2.NewReader(bytes.NewReader(raw))
	case strings.HasSuffix(name, ".gz"):
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	default:
		return raw
	}
	b, err := io.ReadAll(r)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatal(err)
	}
	return b
}

// The MRT builders below write records by hand from RFC 6396 and RFC 4271,
// independently of gobgp, for the error and edge cases.

const testTime = 1400824800 // 2014-05-23 06:00:00 UTC

func mrtRecord(typ, sub uint16, body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, testTime)
	b = binary.BigEndian.AppendUint16(b, typ)
	b = binary.BigEndian.AppendUint16(b, sub)
	b = binary.BigEndian.AppendUint32(b, uint32(len(body)))
	return append(b, body...)
}

// pitRecord is a PEER_INDEX_TABLE with n IPv4 peers of 4-byte ASNs.
func pitRecord(n int) []byte {
	b := []byte{192, 0, 2, 1, 0, 0} // collector BGP ID, empty view name
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	for i := range n {
		b = append(b, 2, 10, 0, 0, byte(i+1), 10, 0, 0, byte(i+1)) // type AS4|IPv4, BGP ID, address
		b = binary.BigEndian.AppendUint32(b, uint32(64500+i))
	}
	return mrtRecord(13, 1, b)
}

// ribRecord is a RIB_IPV4_UNICAST or RIB_IPV6_UNICAST record.
func ribRecord(seq uint32, p netip.Prefix, entries ...[]byte) []byte {
	sub := uint16(2)
	if p.Addr().Is6() {
		sub = 4
	}
	b := binary.BigEndian.AppendUint32(nil, seq)
	b = append(b, byte(p.Bits()))
	b = append(b, p.Addr().AsSlice()[:(p.Bits()+7)/8]...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(entries)))
	for _, e := range entries {
		b = append(b, e...)
	}
	return mrtRecord(13, sub, b)
}

func ribEntry(peer uint16, attrs ...[]byte) []byte {
	var a []byte
	for _, x := range attrs {
		a = append(a, x...)
	}
	b := binary.BigEndian.AppendUint16(nil, peer)
	b = binary.BigEndian.AppendUint32(b, testTime)
	b = binary.BigEndian.AppendUint16(b, uint16(len(a)))
	return append(b, a...)
}

func attr(flags, typ byte, val []byte) []byte {
	return append([]byte{flags, typ, byte(len(val))}, val...)
}

var originIGP = attr(0x40, 1, []byte{0})

// seg is one AS_PATH segment: type 1 AS_SET, 2 AS_SEQUENCE, 3 AS_CONFED_SEQUENCE, 4 AS_CONFED_SET.
type seg struct {
	typ byte
	as  []uint32
}

func asPath(segs ...seg) []byte {
	var v []byte
	for _, s := range segs {
		v = append(v, s.typ, byte(len(s.as)))
		for _, a := range s.as {
			v = binary.BigEndian.AppendUint32(v, a)
		}
	}
	return attr(0x40, 2, v)
}

func nextHop(a string) []byte {
	return attr(0x40, 3, netip.MustParseAddr(a).AsSlice())
}

// pathEntry is a typical RIB entry of peer 0 with the given AS_SEQUENCE.
func pathEntry(as ...uint32) []byte {
	return ribEntry(0, originIGP, asPath(seg{2, as}), nextHop("10.0.0.1"))
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}
