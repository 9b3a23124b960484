package hugemem

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

func TestMake(t *testing.T) {
	for _, n := range []int{0, 1, 1000, Min / 2, Min/2 + 1, 3 << 20} {
		s := Make[uint16](n)
		if len(s) != n || cap(s) != n {
			t.Fatalf("Make(%d): len %d cap %d", n, len(s), cap(s))
		}
		for i, v := range s {
			if v != 0 {
				t.Fatalf("Make(%d)[%d] = %d, want 0", n, i, v)
			}
		}
		for i := range s {
			s[i] = uint16(i)
		}
		for i, v := range s {
			if v != uint16(i) {
				t.Fatalf("Make(%d)[%d] = %d after writing %d", n, i, v, uint16(i))
			}
		}
	}
}

// BenchmarkFirstTouch allocates a fresh 64 MiB slice and writes every
// page of it: what a reload does with a table the heap has no free memory
// for. -benchtime=1x measures one; the heap's memory is returned between
// iterations so that each one faults its pages in again.
func BenchmarkFirstTouch(b *testing.B) {
	const n = 64 << 20
	for _, c := range []struct {
		name string
		make func() []byte
	}{
		{"make", func() []byte { return make([]byte, n) }},
		{"hugemem", func() []byte { return Make[byte](n) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(n)
			for b.Loop() {
				b.StopTimer()
				debug.FreeOSMemory()
				b.StartTimer()
				s := c.make()
				for i := 0; i < len(s); i += 4096 {
					s[i] = 1
				}
			}
		})
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{0, 10, Min + 12345} {
		want := make([]byte, n)
		for i := range want {
			want[i] = byte(i * 7)
		}
		path := filepath.Join(dir, "f")
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFile(path)
		if err != nil {
			t.Fatalf("ReadFile(%d bytes): %v", n, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("ReadFile(%d bytes): %d bytes, not the file's", n, len(got))
		}
	}
	// A file shorter than it was when ReadFile looked (here: empty) gives
	// what is there, as os.ReadFile would.
	var short bytes.Buffer
	if n, err := readChunks(&short, make([]byte, 10)); n != 0 || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("readChunks of nothing into 10 bytes = %d, %v; want 0, ErrUnexpectedEOF", n, err)
	}
	if _, err := ReadFile(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadFile(missing) = %v, want ErrNotExist", err)
	}
}
