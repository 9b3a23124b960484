package popmap

import (
	"cmp"
	"slices"

	"github.com/steer-gslb/steer/internal/hugemem"
)

// radixSort sorts keys in place (see radixSortBits).
func radixSort(keys []uint64) { radixSortBits(keys, 0, 64) }

// radixDigit is the width of a radix sort pass: 8192 counters fit the L1
// and L2 caches, and the scatter writes to as many places at once, which
// the TLB keeps up with better than with 65,536.
const radixDigit = 13

// radixSortBits sorts keys in place by bits [lo, hi) (lo counting from the
// least significant bit) with an LSD radix sort, radixDigit bits per pass,
// skipping passes whose digit is the same in every key; keys equal in
// those bits keep their order. For the million keys of a large map it is
// several times faster than pdqsort, which dominated reload time.
func radixSortBits(keys []uint64, lo, hi uint) {
	if len(keys) < 256 {
		if lo == 0 && hi == 64 {
			sortSmall(keys)
		} else {
			mask := ^uint64(0) << lo
			if hi < 64 {
				mask &= 1<<hi - 1
			}
			slices.SortStableFunc(keys, func(a, b uint64) int { return cmp.Compare(a&mask, b&mask) })
		}
		return
	}
	buf := hugemem.Make[uint64](len(keys))
	src, dst := keys, buf
	var counts [1 << radixDigit]int
	for shift := lo; shift < hi; shift += radixDigit {
		w := min(radixDigit, hi-shift)
		m := uint64(1)<<w - 1
		cs := counts[:1<<w]
		clear(cs)
		first := (src[0] >> shift) & m
		same := true
		for _, k := range src {
			d := (k >> shift) & m
			cs[d]++
			same = same && d == first
		}
		if same {
			continue
		}
		sum := 0
		for i, c := range cs {
			cs[i] = sum
			sum += c
		}
		for _, k := range src {
			d := (k >> shift) & m
			dst[cs[d]] = k
			cs[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &keys[0] {
		copy(keys, src)
	}
}

func sortSmall(keys []uint64) {
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
}
