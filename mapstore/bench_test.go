package mapstore

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/steer-gslb/steer/popmap"
)

// BenchmarkPublish is the publish call of the fleet benchmark on its
// large map (1M IPv4 /24 + 200k IPv6 /56, 20 PoPs): a forced publish over
// a current version, alternating two maps so that each is a change.
// Under -short (CI's one iteration) the map is 100× smaller.
func BenchmarkPublish(b *testing.B) {
	n4, n6 := 1_000_000, 200_000
	if testing.Short() {
		n4, n6 = 10_000, 2_000
	}
	pops := []popmap.Label{"ams", "fra", "lhr", "cdg", "mad", "waw", "arn", "mxp", "vie", "prg",
		"iad", "ord", "dfw", "sjc", "sea", "gru", "nrt", "sin", "syd", "bom"}
	dir := b.TempDir()
	var paths [2]string
	for i := range paths {
		paths[i] = filepath.Join(dir, []string{"a.json", "b.json"}[i])
		f, err := os.Create(paths[i])
		if err != nil {
			b.Fatal(err)
		}
		if err := popmap.Synthetic(n4, n6, pops, uint64(i+1)).Encode(f); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
	d, err := Open(filepath.Join(dir, "maps"))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := d.Publish(paths[1], PublishOptions{Force: true}); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		if _, err := d.Publish(paths[i%2], PublishOptions{Force: true}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
