package builder

import (
	"github.com/steer-gslb/steer/store"

	"encoding/binary"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/popmap"
)

// FuzzParseRules feeds ParseRules (the --skip flag's parser) a
// comma-separated list: it never panics, and it either accepts exactly the
// listed names when every one is a rule's, or fails naming the first name
// that is not, returning no map.
func FuzzParseRules(f *testing.F) {
	for _, c := range parseRulesCases {
		f.Add(strings.Join(c.in, ","))
	}
	for _, r := range Rules {
		f.Add(r)
	}
	f.Add("https-only,,bad-clock")
	f.Add("https-only\x00")
	f.Add("tick-timer,TICK-TIMER")
	f.Fuzz(func(t *testing.T, s string) {
		in := strings.Split(s, ",")
		got, err := ParseRules(in)
		known := map[string]bool{}
		for _, r := range Rules {
			if _, ok := countOnly[r]; !ok {
				known[r] = true
			}
		}
		firstUnknown := -1
		for i, name := range in {
			if !known[name] {
				firstUnknown = i
				break
			}
		}
		if firstUnknown >= 0 {
			if err == nil {
				t.Fatalf("ParseRules(%q) accepted %q", in, in[firstUnknown])
			}
			if got != nil {
				t.Fatalf("ParseRules(%q) returned %v with error %v", in, got, err)
			}
			if !strings.Contains(err.Error(), strconv.Quote(in[firstUnknown])) {
				t.Fatalf("ParseRules(%q): error %q does not name %q", in, err, in[firstUnknown])
			}
			return
		}
		if err != nil {
			t.Fatalf("ParseRules(%q): %v", in, err)
		}
		want := map[Rule]bool{}
		for _, name := range in {
			want[name] = true
		}
		if len(got) != len(want) {
			t.Fatalf("ParseRules(%q) = %v, want %v", in, got, want)
		}
		for r, v := range got {
			if !v || !want[r] {
				t.Fatalf("ParseRules(%q) = %v, want %v", in, got, want)
			}
		}
	})
}

// float32s decodes data as little-endian float32s, keeping the finite ones.
func float32s(data []byte) []float32 {
	var out []float32
	for ; len(data) >= 4; data = data[4:] {
		v := math.Float32frombits(binary.LittleEndian.Uint32(data))
		if !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) {
			out = append(out, v)
		}
	}
	return out
}

func encodeFloat32s(vs []float32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

// FuzzPercentile: on sorted finite values and q in [0, 1], percentile never
// panics, lies between the smallest and largest value, and is the smallest
// at q = 0 and the largest at q = 1.
func FuzzPercentile(f *testing.F) {
	f.Add(encodeFloat32s([]float32{1, 2, 3, 4}), uint16(49151))
	f.Add(encodeFloat32s([]float32{20, 21, 22}), uint16(0))
	f.Add(encodeFloat32s([]float32{7}), uint16(65535))
	f.Add(encodeFloat32s([]float32{-math.MaxFloat32, math.MaxFloat32}), uint16(32768))
	f.Add([]byte{}, uint16(100))
	f.Fuzz(func(t *testing.T, data []byte, qbits uint16) {
		v := float32s(data)
		slices.Sort(v)
		q := float64(qbits) / math.MaxUint16
		got := Percentile(v, q)
		if len(v) == 0 {
			if !math.IsNaN(got) {
				t.Fatalf("Percentile(nil, %v) = %v, want NaN", q, got)
			}
			return
		}
		lo, hi := float64(v[0]), float64(v[len(v)-1])
		slack := 1e-12 * max(math.Abs(lo), math.Abs(hi))
		if !(got >= lo-slack && got <= hi+slack) {
			t.Fatalf("Percentile(%v, %v) = %v, outside [%v, %v]", v, q, got, lo, hi)
		}
		if p := Percentile(v, 0); p != lo {
			t.Fatalf("Percentile(%v, 0) = %v, want %v", v, p, lo)
		}
		if p := Percentile(v, 1); p != hi {
			t.Fatalf("Percentile(%v, 1) = %v, want %v", v, p, hi)
		}
	})
}

// FuzzQuantized: quantized never panics (NaN and infinities included),
// needs five values, and does not depend on the values' order.
func FuzzQuantized(f *testing.F) {
	enc := func(vs ...float64) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		}
		return b
	}
	f.Add(enc(15.625, 31.25, 46.875, 62.5, 78.125))
	f.Add(enc(16, 32, 48, 64, 80))
	f.Add(enc(20, 21, 22, 23, 24))
	f.Add(enc(15.6, 31.3, 46.9, 62.5, 15.7, 31.2))
	f.Add(enc(math.NaN(), math.Inf(1), math.Inf(-1), -15.625, 1e300))
	f.Fuzz(func(t *testing.T, data []byte) {
		var v []float64
		for ; len(data) >= 8; data = data[8:] {
			v = append(v, math.Float64frombits(binary.LittleEndian.Uint64(data)))
		}
		got := store.Quantized(v)
		if len(v) < 5 && got {
			t.Fatalf("store.Quantized(%v): true with fewer than 5 values", v)
		}
		r := slices.Clone(v)
		slices.Reverse(r)
		if store.Quantized(r) != got {
			t.Fatalf("store.Quantized(%v) = %v, but %v reversed", v, got, !got)
		}
	})
}

var capacityCases = []struct {
	in   []string
	want map[popmap.Label]float64
	err  string
}{
	{nil, map[popmap.Label]float64{}, ""},
	{[]string{"fra=0.2"}, map[popmap.Label]float64{"fra": 0.2}, ""},
	{[]string{"fra=0.2", " ams = 1 "}, map[popmap.Label]float64{"fra": 0.2, "ams": 1}, ""},
	{[]string{"fra"}, nil, "not LABEL=SHARE"},
	{[]string{"fra=0"}, nil, "not a number in (0, 1]"},
	{[]string{"fra=1.5"}, nil, "not a number in (0, 1]"},
	{[]string{"fra=NaN"}, nil, "not a number in (0, 1]"},
	{[]string{"fra=x"}, nil, "not a number in (0, 1]"},
	{[]string{"FRA=0.5"}, nil, "label"},
	{[]string{"=0.5"}, nil, "label"},
	{[]string{"fra=0.5", "fra=0.2"}, nil, "given twice"},
}

func TestParseCapacity(t *testing.T) {
	for _, c := range capacityCases {
		got, err := ParseCapacity(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseCapacity(%q): error %v, want one containing %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || len(got) != len(c.want) {
			t.Errorf("ParseCapacity(%q) = %v, %v; want %v", c.in, got, err, c.want)
			continue
		}
		for l, v := range c.want {
			if got[l] != v {
				t.Errorf("ParseCapacity(%q)[%s] = %v, want %v", c.in, l, got[l], v)
			}
		}
	}
}

func FuzzParseCapacity(f *testing.F) {
	for _, c := range capacityCases {
		f.Add(strings.Join(c.in, "\n"))
	}
	f.Fuzz(func(t *testing.T, s string) {
		items := strings.Split(s, "\n")
		got, err := ParseCapacity(items)
		if err != nil {
			if got != nil {
				t.Fatalf("ParseCapacity(%q): %v with error %v", items, got, err)
			}
			return
		}
		for l, v := range got {
			if !(v > 0 && v <= 1) || config.CheckLabel(l) != nil {
				t.Fatalf("ParseCapacity(%q) accepted %s=%v", items, l, v)
			}
		}
		o := Options{Capacity: got}
		if err := o.Validate(); err != nil {
			t.Fatalf("ParseCapacity(%q) = %v, which Options.Validate refuses: %v", items, got, err)
		}
	})
}
