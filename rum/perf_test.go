package rum

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/bits"
	"math/rand/v2"
	"testing"
)

// TestStrStopMask checks the eight-bytes-at-a-time string scan against the
// strStop table: every byte value at every position, behind every other
// byte value, and random words weighted towards the interesting bytes.
func TestStrStopMask(t *testing.T) {
	check := func(w [8]byte) {
		t.Helper()
		want := 8
		for i, c := range w {
			if strStop[c] {
				want = i
				break
			}
		}
		got := 8
		if m := strStopMask(binary.LittleEndian.Uint64(w[:])); m != 0 {
			got = bits.TrailingZeros64(m) >> 3
		}
		if got != want {
			t.Fatalf("% x: first stop byte at %d, want %d", w, got, want)
		}
	}
	for pos := range 8 {
		for c := range 256 {
			for prev := range 256 {
				w := [8]byte{'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a'}
				w[pos] = byte(c)
				if pos > 0 {
					w[pos-1] = byte(prev)
				}
				if pos < 7 {
					w[pos+1] = byte(prev)
				}
				check(w)
			}
		}
	}
	special := []byte{0, 1, 0x1f, 0x20, 0x21, '"', 0x23, '\\', 0x5b, 0x5d, 0x7f, 0x80, 0xa2, 0xdc, 0xff}
	r := rand.New(rand.NewPCG(1, 2))
	for range 1_000_000 {
		var w [8]byte
		for i := range w {
			if r.IntN(2) == 0 {
				w[i] = special[r.IntN(len(special))]
			} else {
				w[i] = byte(r.IntN(256))
			}
		}
		check(w)
	}
}

// sampleFastCases are samples in and just outside the form sampleFast
// takes; each must either take the fast path to the same result as sample
// or leave the parser untouched.
var sampleFastCases = []string{
	`{"ts":"2026-11-21T10:00:00.123Z","target":"fra","probe":"https","rtt_ms":23.4}`,
	`{"ts":"2026-11-21T10:00:00.123Z","target":"anycast","probe":"https","rtt_ms":31,"served_by":"ams"}`,
	`{"ts":"2026-11-21T10:00:00.123456Z","target":"fra","probe":"http","rtt_ms":0}`,
	`{"ts":"2026-11-21T10:00:00.123456789Z","target":"fra","probe":"tcp","rtt_ms":-0}`,
	`{"ts":"2026-11-21T10:00:00Z","target":"fra","probe":"tcp","rtt_ms":-0.000}`,
	`{"ts":"2026-11-21T10:00:00+01:30","target":"fra","probe":"tcp","rtt_ms":1.5},`,
	`{"ts":"2026-11-21T10:00:00.1234567890123Z","target":"0-9","probe":"tcp","rtt_ms":123456789012345}`,
	`{"ts":"2026-11-21T10:00:00.123Z","target":"fra","probe":"https","rtt_ms":1234567890123456}`,
	`{"ts":"2026-11-21T10:00:00.123Z","target":"fra","probe":"https","rtt_ms":0.1234567890123456}`,
	`{"ts":"2026-11-21T10:00:00.123Z","target":"fra","probe":"https","rtt_ms":0.00000000000000000000001}`,
	`{"ts":"2026-11-21T10:00:00.123Z","target":"fra","probe":"https","rtt_ms":0.0000000000000000000001}`,
	`{"ts":"2026-11-21T10:00:00.123Z","target":"fra","probe":"https","rtt_ms":01}`,
	`{"ts":"2026-11-21T10:00:00.123Z","target":"fra","probe":"https","rtt_ms":1.}`,
	`{"ts":"2026-11-21T10:00:00.123Z","target":"fra","probe":"https","rtt_ms":1e3}`,
	`{"ts":"2026-11-21T10:00:00.123Z","target":"fra","probe":"https","rtt_ms":-}`,
	`{"ts":"2026-11-21T10:00:00.123Z","target":"fra","probe":"https","rtt_ms":1 }`,
	`{"ts":"2026-11-21T10:00:00.123Z","target":"fra","probe":"https","rtt_ms":1,"served_by":""}`,
	`{"ts":"2026-11-21T10:00:00.123Z","target":"fra","probe":"https","rtt_ms":1,"served_by":"anycast"}`,
	`{"ts":"2026-11-21T10:00:00.123Z","target":"fra","probe":"https","rtt_ms":1,"served_by":"a\u0062"}`,
	`{"ts":"2026-11-21T10:00:00.123Z","target":"fra","probe":"https","rtt_ms":1,"served_by":"ams","x":1}`,
	`{"ts":"2026-11-21T10:00:00.123Z","target":"fra","probe":"https","rtt_ms":1,"rtt_ms":2}`,
	`{"ts":"2026-11-21T10:00:00.123Z","target":"","probe":"https","rtt_ms":1}`,
	`{"ts":"2026-11-21T10:00:00.123Z","target":"Fra","probe":"https","rtt_ms":1}`,
	`{"ts":"2026-11-21T10:00:00.123Z","target":"abcdefghijabcdefghijabcdefghijab","probe":"https","rtt_ms":1}`,
	`{"ts":"2026-11-21T10:00:00.123Z","target":"abcdefghijabcdefghijabcdefghijabc","probe":"https","rtt_ms":1}`,
	`{"ts":"2026-11-21T10:00:00.123Z","target":"fra","probe":"ftp","rtt_ms":1}`,
	`{"ts":"2026-11-21T10:00:00.123Z","target":"fra","probe":"https","rtt_ms":"1"}`,
	`{"ts":"2026-11-21T10:00:00.123Z","target":"fra","probe":"https"}`,
	`{"ts":"2026-02-30T10:00:00.123Z","target":"fra","probe":"https","rtt_ms":1}`,
	`{"ts":"2026-11-21T24:00:00.123Z","target":"fra","probe":"https","rtt_ms":1}`,
	`{"ts":"2026-11-21T10:00:00.123","target":"fra","probe":"https","rtt_ms":1}`,
	`{"ts":"2026-11-21T10:00:00.123Z" ,"target":"fra","probe":"https","rtt_ms":1}`,
	`{"ts": "2026-11-21T10:00:00.123Z","target":"fra","probe":"https","rtt_ms":1}`,
	`{"target":"fra","ts":"2026-11-21T10:00:00.123Z","probe":"https","rtt_ms":1}`,
	`{"ts":"2026-11-21T10:00:00.123Z","target":"fra","probe":"https","rtt_ms":1`,
	`{"ts":"2026-11-21T10:00:00.123Z","target":"fra","probe":"https","rtt_ms":`,
	`{"ts":"2026-11-21T10:00:00.123Z","target":"fra"`,
	`{"ts":"2026`,
	`{"ts":"`,
	`{"ts"`,
	``,
}

func TestSampleFast(t *testing.T) {
	fast := 0
	for _, s := range sampleFastCases {
		if checkSampleFast(t, []byte(s)) {
			fast++
		}
	}
	if fast < 8 {
		t.Errorf("only %d cases took the fast path", fast)
	}
	// The benchmark's and the simulator's samples take it.
	var b Beacon
	data := benchBeacon(20)
	p := parser{data: data}
	if err := p.beacon(Strict, &b); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		j := bytes.Index(data[i:], []byte(`{"ts"`))
		if j < 0 {
			break
		}
		i += j
		if !checkSampleFast(t, data[i:]) {
			t.Errorf("sample at offset %d does not take the fast path", i)
		}
	}
}

// checkSampleFast: when sampleFast takes data, sample takes it too, to the
// same value and position; when it does not, it leaves the parser alone.
// It reports whether the fast path was taken.
func checkSampleFast(t *testing.T, data []byte) bool {
	t.Helper()
	pf := parser{data: data, where: inSample}
	var sf Sample
	if !pf.sampleFast(&sf) {
		if pf.pos != 0 || pf.where != inSample || pf.unknown != 0 || sf != (Sample{}) {
			t.Fatalf("sampleFast declined %q but changed the parser or sample", data)
		}
		return false
	}
	for _, mode := range []Mode{Strict, Bulk} {
		ps := parser{data: data, where: inSample}
		var ss Sample
		if err := ps.sample(mode, &ss); err != nil {
			t.Fatalf("sampleFast accepts %q, sample (mode %d) rejects it: %v", data, mode, err)
		}
		if ss != sf || math.Float64bits(ss.RTTms) != math.Float64bits(sf.RTTms) || ps.pos != pf.pos || ps.unknown != 0 {
			t.Fatalf("%q: sampleFast gives %+v at %d, sample %+v at %d", data, sf, pf.pos, ss, ps.pos)
		}
	}
	return true
}

// FuzzSampleFast: sampleFast and sample agree on every input sampleFast
// takes, and sampleFast leaves the parser alone on the others.
func FuzzSampleFast(f *testing.F) {
	for _, s := range sampleFastCases {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkSampleFast(t, data) })
}
