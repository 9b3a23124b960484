package hugemem

import (
	"syscall"
	"unsafe"
)

const hugePage = 2 << 20

func advise[T any](s []T) {
	size := uintptr(len(s)) * unsafe.Sizeof(*new(T))
	if size < Min {
		return
	}
	base := unsafe.Pointer(unsafe.SliceData(s))
	p := uintptr(base)
	start := (p + hugePage - 1) &^ (hugePage - 1)
	end := (p + size) &^ (hugePage - 1)
	if end <= start {
		return
	}
	// An error (EINVAL: a kernel without THP) leaves ordinary pages.
	b := unsafe.Slice((*byte)(unsafe.Add(base, start-p)), end-start)
	_ = syscall.Madvise(b, syscall.MADV_HUGEPAGE)
}
