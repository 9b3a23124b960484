package bgp

import (
	"bytes"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func writtenMRT(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteMRT(&buf, roundTripRoutes, time.Unix(testTime, 0), 64496, netip.MustParseAddr("192.0.2.254")); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writtenPyASN(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WritePyASN(&buf, roundTripRoutes, "written by TestRead"); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestRead: Read detects the compression and the format of both writers'
// output, plain and gzipped, and of the bzip2 testdata.
func TestRead(t *testing.T) {
	mrtData, pyasnData := writtenMRT(t), writtenPyASN(t)
	for _, tc := range []struct {
		name        string
		in          []byte
		format, cmp string
		routes      int
	}{
		{"mrt", mrtData, FormatMRT, CompressionNone, len(roundTripRoutes)},
		{"mrt gzip", gzipBytes(t, mrtData), FormatMRT, CompressionGzip, len(roundTripRoutes)},
		{"mrt bzip2", readTestdata(t, "rib.20140523.0600_head.mrt.bz2"), FormatMRT, CompressionBzip2, 4}, // and 0.0.0.0/0
		{"pyasn", pyasnData, FormatPyASN, CompressionNone, len(roundTripRoutes)},
		{"pyasn gzip", gzipBytes(t, pyasnData), FormatPyASN, CompressionGzip, len(roundTripRoutes)},
		{"pyasn bzip2", readTestdata(t, "ipasn_20140513_head200.dat.bz2"), FormatPyASN, CompressionBzip2, 200},
		{"pyasn without comments", []byte("1.0.0.0/24\t15169\n"), FormatPyASN, CompressionNone, 1},
		{"pyasn v6 first", []byte("2001:db8::/32\t1\n"), FormatPyASN, CompressionNone, 1},
		{"pyasn v6 hex first", []byte("fd00::/8\t1\n"), FormatPyASN, CompressionNone, 1},
		{"pyasn blank first", []byte("\n\n1.0.0.0/24\t15169\n"), FormatPyASN, CompressionNone, 1},
		{"empty", nil, FormatPyASN, CompressionNone, 0},
		{"empty gzip", gzipBytes(t, nil), FormatPyASN, CompressionGzip, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, fn := collect()
			st, err := Read(bytes.NewReader(tc.in), fn)
			if err != nil {
				t.Fatal(err)
			}
			if st.Format != tc.format || st.Compression != tc.cmp || st.Routes != tc.routes || len(*got) != tc.routes || st.Truncated {
				t.Fatalf("stats = %+v, want %s, %q, %d routes", st, tc.format, tc.cmp, tc.routes)
			}
			checkRoutes(t, *got)
			if tc.routes == len(roundTripRoutes) && !slices.Equal(*got, roundTripRoutes) {
				t.Fatalf("routes = %v, want %v", *got, roundTripRoutes)
			}
		})
	}
}

// TestReadCut: a gzip stream of either format cut anywhere gives the routes
// before the cut and Truncated, never an error.
func TestReadCut(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"mrt", writtenMRT(t)},
		{"pyasn", writtenPyASN(t)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z := gzipBytes(t, tc.data)
			for i := 1; i < len(z); i++ {
				got, fn := collect()
				st, err := Read(bytes.NewReader(z[:i]), fn)
				if err != nil {
					t.Fatalf("gzip cut at %d of %d: %v", i, len(z), err)
				}
				if !st.Truncated || !slices.Equal(*got, roundTripRoutes[:len(*got)]) {
					t.Fatalf("gzip cut at %d of %d: stats %+v, routes %v", i, len(z), st, *got)
				}
			}
		})
	}
	// The real fragments are cut bzip2 streams; cut them shorter still.
	raw := readTestdata(t, "rib.20140523.0600_first64KiB.bz2")
	for _, n := range []int{4, 10, 1000, 30000} { // "BZh9" and more
		st, err := Read(bytes.NewReader(raw[:n]), func(Route) error { return nil })
		if err != nil || !st.Truncated || st.Compression != CompressionBzip2 {
			t.Fatalf("bzip2 cut at %d: %+v, %v", n, st, err)
		}
	}
}

func TestReadErrors(t *testing.T) {
	z := gzipBytes(t, writtenPyASN(t))
	badCRC := bytes.Clone(z)
	badCRC[len(badCRC)-6] ^= 0xff
	badBz := bytes.Clone(readTestdata(t, "ipasn_20140513_head200.dat.bz2"))
	badBz[100] ^= 0xff
	for _, tc := range []struct {
		name string
		in   []byte
		err  string
	}{
		{"gzip bad checksum", badCRC, "gzip: invalid checksum"},
		{"gzip bad header", []byte{0x1f, 0x8b, 99, 0, 0, 0, 0, 0, 0, 0, 0, 0}, "reading gzip header: gzip: invalid header"},
		{"gzip trailing garbage", append(bytes.Clone(z), "garbage!!!"...), "gzip: invalid header"},
		{"bzip2 damaged", badBz, "bzip2 data invalid"},
		{"binary", []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13}, "mrt record 1 (type 3338 subtype 6666) at byte 0: unknown MRT type 3338"},
		{"text garbage", []byte("hello world\n"), `line 1: missing tab`},
		{"pyasn error inside gzip", gzipBytes(t, []byte("1.0.0.0/24\t15169\n1.0.0.0/24\t0\n")), "line 2: prefix 1.0.0.0/24: ASN 0 is reserved"},
		{"mrt error inside gzip", gzipBytes(t, mrtErrorCases[4].in), mrtErrorCases[4].err},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, fn := collect()
			_, err := Read(bytes.NewReader(tc.in), fn)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("Read error = %v, want %q", err, tc.err)
			}
			checkRoutes(t, *got)
		})
	}
	boom := errors.New("boom")
	if _, err := Read(iotest.ErrReader(boom), func(Route) error { return nil }); !errors.Is(err, boom) {
		t.Fatalf("Read of a failing reader: %v, want boom", err)
	}
	stop := errors.New("stop")
	for _, in := range [][]byte{writtenMRT(t), gzipBytes(t, writtenPyASN(t))} {
		if _, err := Read(bytes.NewReader(in), func(Route) error { return stop }); err != stop { //nolint:errorlint // the very error
			t.Fatalf("Read with a failing callback: %v, want the callback's error unchanged", err)
		}
	}
}

// TestReadOneByteAtATime: the parsers do not depend on how the reader splits
// its data.
func TestReadOneByteAtATime(t *testing.T) {
	for _, in := range [][]byte{writtenMRT(t), gzipBytes(t, writtenMRT(t)), writtenPyASN(t), readTestdata(t, "rib.20140523.0600_head.mrt.bz2")} {
		got, fn := collect()
		want, wfn := collect()
		st, err := Read(iotest.OneByteReader(bytes.NewReader(in)), fn)
		if err != nil {
			t.Fatal(err)
		}
		wst, err := Read(bytes.NewReader(in), wfn)
		if err != nil {
			t.Fatal(err)
		}
		if st != wst || !slices.Equal(*got, *want) {
			t.Fatalf("one byte at a time: %+v %v, want %+v %v", st, *got, wst, *want)
		}
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.dat")
	bad := filepath.Join(dir, "bad.dat")
	if err := os.WriteFile(good, writtenPyASN(t), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("; x\n1.0.0.1/24\t1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := ReadFile(good, func(Route) error { return nil })
	if err != nil || st.Routes != len(roundTripRoutes) {
		t.Fatalf("ReadFile(%s) = %+v, %v", good, st, err)
	}
	_, err = ReadFile(bad, func(Route) error { return nil })
	if want := "bgp data " + bad + ": line 2: prefix 1.0.0.1/24 has host bits set"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("ReadFile(%s) error = %v, want %q", bad, err, want)
	}
	missing := filepath.Join(dir, "missing.dat")
	_, err = ReadFile(missing, func(Route) error { return nil })
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Fatalf("ReadFile(%s) error = %v, want a not-exist error naming the file", missing, err)
	}
}
