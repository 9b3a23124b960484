package syncbuf

import (
	"strings"
	"sync"
	"testing"
)

// Writers in several goroutines and a reader at the same time (run with
// -race): every write lands whole.
func TestBuffer(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if _, err := b.Write([]byte("ab\n")); err != nil {
					t.Error(err)
				}
				_ = b.String()
			}
		})
	}
	wg.Wait()
	s := b.String()
	if n := strings.Count(s, "ab\n"); n != 800 || len(s) != 2400 {
		t.Fatalf("%d whole writes in %d bytes, want 800 in 2400", n, len(s))
	}
}
