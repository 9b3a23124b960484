package hugemem

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// TestMakeAdvises checks, in the kernel's own words, that the aligned part
// of a slice from Make may be backed by huge pages: /proc/self/smaps shows
// its mapping THPeligible. That holds in THP mode "always" anyway; in
// "madvise", Linux's default, only because Make asked.
func TestMakeAdvises(t *testing.T) {
	mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil || strings.Contains(string(mode), "[never]") {
		t.Skipf("no transparent huge pages here (%q, %v)", mode, err)
	}
	s := Make[uint32](4 << 20) // 16 MiB
	p := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	addr := (p + hugePage - 1) &^ (hugePage - 1)
	eligible, found := thpEligible(t, addr)
	if !found {
		t.Fatalf("no mapping in /proc/self/smaps holds %#x", addr)
	}
	if !eligible {
		t.Errorf("the mapping holding %#x is not THPeligible (mode %q)", addr, strings.TrimSpace(string(mode)))
	}
	s[0] = 1 // keep s alive past the check
}

// thpEligible reads the THPeligible field of the mapping holding addr.
func thpEligible(t *testing.T, addr uintptr) (eligible, found bool) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("no /proc/self/smaps: %v", err)
	}
	defer func() { _ = f.Close() }()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if lo, hi, ok := mappingRange(line); ok {
			in = lo <= addr && addr < hi
			continue
		}
		if in && strings.HasPrefix(line, "THPeligible:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "THPeligible:")) == "1", true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return false, false
}

// mappingRange parses a mapping's first line ("lo-hi perms ...").
func mappingRange(line string) (lo, hi uintptr, ok bool) {
	r, _, _ := strings.Cut(line, " ")
	a, b, ok := strings.Cut(r, "-")
	if !ok {
		return 0, 0, false
	}
	x, err1 := strconv.ParseUint(a, 16, 64)
	y, err2 := strconv.ParseUint(b, 16, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return uintptr(x), uintptr(y), true
}
