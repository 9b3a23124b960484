package builder

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/steer-gslb/steer/geoip"
	"github.com/steer-gslb/steer/sim"
	"github.com/steer-gslb/steer/store/duckstore"
)

// BenchmarkBuild builds a map from a small simulated world (every network
// measured, 3-4 beacons each: ~3,000 networks, ~215k samples, full
// production noise, DNS log, BGP and GeoIP) as `steer build` does: store
// read-only, BGP text and GeoIP given. The world and its store are made
// once, outside the timer (~2 s); one build takes ~0.4 s. bench/build.sh
// measures the 10M- and 100M-sample builds of issue 7.
func BenchmarkBuild(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	o := sim.DefaultOptions()
	o.Networks, o.Measured, o.BeaconsMin, o.BeaconsMax = 3000, 1, 3, 4
	w, err := sim.Plan(o)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := sim.Generate(w, dir, nil); err != nil {
		b.Fatal(err)
	}
	st, err := duckstore.Open(filepath.Join(dir, "store"), duckstore.Options{Threads: 1})
	if err != nil {
		b.Fatal(err)
	}
	// received at the end of the world's period, so that no sample is
	// older than Options.MaxAge whatever today's date
	imp := duckstore.ImportOptions{Received: o.Start.Add(o.Duration)}
	var samples int
	for _, f := range []string{sim.FileBeacons, sim.FileDNSLog} {
		is, err := duckstore.ImportFile(ctx, st, filepath.Join(dir, f), imp)
		if err != nil {
			b.Fatal(err)
		}
		samples += is.Samples
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	st, err = duckstore.Open(filepath.Join(dir, "store"), duckstore.Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	geo, err := geoip.Open(filepath.Join(dir, sim.FileGeoIP))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = geo.Close() })
	in := Input{Store: st, StoreDir: dir, BGP: []string{filepath.Join(dir, sim.FileBGP)}, GeoIP: geo}

	b.ReportAllocs()
	var res *Result
	for b.Loop() {
		if res, err = Build(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(samples)/sec, "samples/s")
	b.ReportMetric(float64(samples), "samples")
	b.ReportMetric(float64(res.Report.Inputs.Samples), "samples-used")
	b.ReportMetric(float64(len(res.Map.Entries)), "entries")
}
