package popmap

import (
	"os"
	"testing"
	"time"
)

func TestLoadTiming(t *testing.T) {
	path := os.Getenv("STEER_BIGMAP")
	if path == "" {
		t.Skip("STEER_BIGMAP not set")
	}
	for range 3 {
		t0 := time.Now()
		data, _ := os.ReadFile(path)
		t1 := time.Now()
		m, err := Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		t2 := time.Now()
		_ = m.CheckLabels(func(Label) bool { return true })
		t3 := time.Now()
		if _, err := Compile(m); err != nil {
			t.Fatal(err)
		}
		t4 := time.Now()
		t.Logf("read %v parse %v check %v compile %v", t1.Sub(t0), t2.Sub(t1), t3.Sub(t2), t4.Sub(t3))
	}
}
