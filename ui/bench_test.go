package ui

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/steer-gslb/steer/internal/browser"
)

// The explorer's benchmarks run on the 3,000-network test world by default
// (CI runs each once); bench/ui.sh runs them on a 1M-network world:
//
//	STEER_UI_BENCH_NETWORKS=1000000 STEER_UI_BENCH_DIR=/tmp/steer-ui-bench \
//	  go test -run '^$' -bench . -benchtime 5x ./ui/
//
// The world and its map (one entry per network) are written to
// STEER_UI_BENCH_DIR once and reused.

var (
	benchModel *Model
	benchWorld *testWorld
)

func benchSetup(b *testing.B) (*Model, *testWorld) {
	b.Helper()
	if benchModel != nil {
		return benchModel, benchWorld
	}
	n, _ := strconv.Atoi(os.Getenv("STEER_UI_BENCH_NETWORKS"))
	dir := os.Getenv("STEER_UI_BENCH_DIR")
	if n == 0 || dir == "" {
		benchWorld = getWorld(b)
	} else {
		tw, err := reuseWorld(dir, n)
		if err != nil {
			b.Fatal(err)
		}
		benchWorld = tw
	}
	o, _, err := Open(Files{Map: benchWorld.mapPath, World: benchWorld.dir})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if benchModel, err = Load(o); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d networks, %d map entries: loaded in %.1f s", len(benchModel.points), len(benchModel.mapA.Entries), time.Since(start).Seconds())
	return benchModel, benchWorld
}

// reuseWorld makes the world of n networks in dir unless a previous run did.
func reuseWorld(dir string, n int) (*testWorld, error) {
	mark := filepath.Join(dir, fmt.Sprintf("networks-%d", n))
	if _, err := os.Stat(mark); err == nil {
		tw := &testWorld{dir: dir, mapPath: filepath.Join(dir, "latency.json"), against: filepath.Join(dir, "other.json")}
		return tw, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	tw, err := makeWorld(dir, n)
	if err != nil {
		return nil, err
	}
	return tw, os.WriteFile(mark, nil, 0o644)
}

// BenchmarkLoad is the explorer's start: read the truth and the map,
// place, aggregate four h3 resolutions, evaluate, paint the Hilbert grids.
func BenchmarkLoad(b *testing.B) {
	_, tw := benchSetup(b)
	o, _, err := Open(Files{Map: tw.mapPath, World: tw.dir})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(o); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCellAPI is a hexagon click's server side: GET /api/cell at
// the finest resolution, on the heaviest network's hexagon.
func BenchmarkCellAPI(b *testing.B) {
	m, _ := benchSetup(b)
	s := NewServer(m, nil)
	lv := m.levels[m.opts.Resolutions[len(m.opts.Resolutions)-1]]
	top := &m.points[0]
	for i := range m.points {
		if m.points[i].weight > top.weight {
			top = &m.points[i]
		}
	}
	url := fmt.Sprintf("/api/cell?res=%d&lat=%v&lon=%v", lv.res, top.lat, top.lon)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest(http.MethodGet, url, nil))
		if w.Code != http.StatusOK {
			b.Fatalf("%s: %d %s", url, w.Code, w.Body)
		}
	}
}

// BenchmarkBrowserFirstView is what a user waits for: a new Chromium
// (started outside the timer, with an empty cache) loads the page until
// the outline and the first hexagons are drawn.
func BenchmarkBrowserFirstView(b *testing.B) {
	m, _ := benchSetup(b)
	srv := httptest.NewServer(NewServer(m, nil))
	defer srv.Close()
	for b.Loop() {
		b.StopTimer()
		ctx := browser.Start(b, 1400, 800, time.Minute)
		b.StartTimer()
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
			b.Fatal(err)
		}
		if err := browser.WaitJS(ctx, `document.body.dataset.ready === "1"`); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBrowserClick is a hexagon click as the user sees it: from the
// click to the hexagon's networks listed in the side panel. ns/op is the
// test's view (with the DevTools round trips and 50 ms polling); page-ms/op
// is the page's own clock from the click event to the panel drawn.
func BenchmarkBrowserClick(b *testing.B) {
	m, _ := benchSetup(b)
	srv := httptest.NewServer(NewServer(m, nil))
	defer srv.Close()
	// The heaviest network well inside its hexagon.
	var top *point
	for i := range m.points {
		p := &m.points[i]
		if (top == nil || p.weight > top.weight) && insideHex(float64(p.lat), float64(p.lon)) {
			top = p
		}
	}
	ctx := browser.Start(b, 1400, 800, 5*time.Minute)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		b.Fatal(err)
	}
	if err := browser.WaitJS(ctx, `document.body.dataset.ready === "1"`); err != nil {
		b.Fatal(err)
	}
	pos, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](fmt.Sprintf(`steerUI.world.project(%v, %v)`, top.lon, top.lat)))
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	var pageMs float64
	for b.Loop() {
		i++
		if err := chromedp.Do(ctx, chromedp.MouseClickXY(pos[0], pos[1])); err != nil {
			b.Fatal(err)
		}
		// Each click re-renders the panel: wait for this click's.
		if err := browser.WaitJS(ctx, fmt.Sprintf(`(steerUI.clicks || 0) >= %d`, i)); err != nil {
			b.Fatal(err)
		}
		ms, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`steerUI.clickMs`))
		if err != nil {
			b.Fatal(err)
		}
		pageMs += ms
	}
	b.ReportMetric(pageMs/float64(i), "page-ms/op")
}
