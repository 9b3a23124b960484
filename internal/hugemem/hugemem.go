// Package hugemem allocates large pointer-free slices that the kernel may
// back with transparent huge pages.
//
// A DNS server's reload allocates some 100 MB of tables (a 1.2M-network
// map: the fetched table, its runs, the 32 MiB direct /24 table) while the
// old ones still serve, and the first reload after a start has no freed
// memory to reuse: every 4 KiB page of it is faulted in. On the 2-core VMs
// this project is measured on a fault costs 11-14 µs (a 2 GiB region
// touched page by page in 5.9 s), so those faults were most of a first
// reload's CPU (a direct table 166-261 ms instead of 43). With
// MADV_HUGEPAGE the same 2 GiB took 0.13 s. Linux's default THP mode,
// "madvise", gives huge pages only to regions that ask, and the Go
// runtime asks for none of its heap, so Make asks for the slices it
// returns.
//
// The memory stays the Go heap's: it is collected and reused like any
// other. Make only marks the 2 MiB-aligned part of the slice's range; the
// kernel splits a huge page when the runtime returns part of it.
package hugemem

import (
	"errors"
	"io"
	"os"
)

// Min is the smallest size in bytes worth marking: a slice shorter than
// two huge pages may not cover a whole aligned one.
const Min = 4 << 20

// Make is make([]T, n) for a pointer-free element type, with the slice's
// memory marked for transparent huge pages where the platform has them
// (Linux) and the slice spans at least Min bytes.
func Make[T ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~int32 | ~int64](n int) []T {
	s := make([]T, n)
	advise(s)
	return s
}

// ReadFile is os.ReadFile into a slice from Make, read in calls of at
// most 256 KiB (see chunk).
func ReadFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := fi.Size()
	if !fi.Mode().IsRegular() || size < Min || int64(int(size)) != size {
		return os.ReadFile(name)
	}
	b := Make[byte](int(size))
	n, err := readChunks(f, b)
	if err != nil {
		// Shorter than it was (ErrUnexpectedEOF): what was there.
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return b[:n], nil
		}
		return nil, err
	}
	// Longer than it was: the rest too, as os.ReadFile would.
	rest, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	return append(b, rest...), nil
}

// chunk bounds one read: a read system call copies on without a
// preemption point for long stretches on kernels built without
// preemption (PREEMPT_NONE), which a low-priority reader would then hold
// its core for.
const chunk = 256 << 10

// readChunks is io.ReadFull in reads of at most chunk bytes.
func readChunks(r io.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:min(n+chunk, len(b))])
		n += m
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		}
	}
	return n, nil
}
