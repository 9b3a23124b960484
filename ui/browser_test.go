package ui

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	h3 "github.com/uber/h3-go/v4"

	"github.com/steer-gslb/steer/geoip"
	"github.com/steer-gslb/steer/internal/browser"
)

// TestBrowser drives the explorer in headless Chromium against a real
// server on the simulated test world: hexagons are drawn in the map's PoP
// colours (read back from a screenshot), switching the colouring changes the
// picture, clicking a known network's hexagon lists it and explaining it
// shows its PoP and the rule its entry came from, the Hilbert view paints
// its /24 in its PoP's colour, and the evaluation draws the gain
// distribution.
func TestBrowser(t *testing.T) {
	m := loadWorld(t, true)
	tw := getWorld(t)
	srv := httptest.NewServer(NewServer(m, nil))
	defer srv.Close()
	ctx := browser.Start(t, 1400, 800, 2*time.Minute)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	waitJS(ctx, t, `document.body.dataset.ready === "1" || !!document.body.dataset.error`)
	if e := evalJS[string](ctx, t, `document.body.dataset.error || ""`); e != "" {
		t.Fatalf("the page failed: %s", e)
	}
	r := evalJS[[]float64](ctx, t, `(() => { const r = document.querySelector("#map").getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })()`)
	canvas := image.Rect(int(r[0]), int(r[1]), int(r[2]), int(r[3]))
	shot1 := crop(screenshot(ctx, t), canvas)
	popColours := map[color.RGBA]string{}
	for _, p := range m.pops {
		popColours[rgb(p.Color)] = p.Label
	}
	n1 := countColours(shot1, popColours)
	if n1 < 20000 {
		t.Fatalf("%d pixels in PoP colours: hexagons not drawn", n1)
	}

	// The known network: the heaviest IPv4 network far from every PoP (so
	// no PoP marker covers its hexagon).
	target := farNetwork(t, tw, m)
	pos := evalJS[[]float64](ctx, t, fmt.Sprintf(`steerUI.world.project(%v, %v)`, target.lon, target.lat))
	lv := m.levels[int(evalJS[float64](ctx, t, `steerUI.world.level()`))]
	c := lv.cellAt(target.lat, target.lon)
	dom, _ := c.dominant()
	if got := browser.Dominant(shot1, int(pos[0]), int(pos[1]), 2); popColours[got] != m.pops[dom].Label {
		t.Errorf("the hexagon of %v is drawn %v (%q), want %s's colour %s", target.net, got, popColours[got], m.pops[dom].Label, m.pops[dom].Color)
	}

	// Colour by p75 latency: the picture changes, PoP colours mostly go.
	evalJS[any](ctx, t, `steerUI.world.setColour("p75")`)
	shot2 := crop(screenshot(ctx, t), canvas)
	n2 := countColours(shot2, popColours)
	if changed := differing(shot1, shot2); changed < n1/2 || n2 > n1/3 {
		t.Errorf("colouring by p75: %d pixels changed, %d PoP-coloured pixels left of %d", changed, n2, n1)
	}
	evalJS[any](ctx, t, `steerUI.world.setColour("pop")`)

	// Click the network's hexagon, then the network: its PoP and rule.
	if el := evalJS[string](ctx, t, fmt.Sprintf(`document.elementFromPoint(%v, %v).id`, pos[0], pos[1])); el != "map" {
		t.Fatalf("the network's position %v is covered by #%s", pos, el)
	}
	if err := chromedp.Do(ctx, chromedp.MouseClickXY(pos[0], pos[1])); err != nil {
		t.Fatal(err)
	}
	waitJS(ctx, t, fmt.Sprintf(`!!document.querySelector('tr[data-net="%s"]')`, target.net))
	if err := chromedp.Do(ctx, chromedp.Click(fmt.Sprintf(`tr[data-net="%s"]`, target.net))); err != nil {
		t.Fatal(err)
	}
	waitJS(ctx, t, `!!document.querySelector("#rule")`)
	text := evalJS[string](ctx, t, `document.querySelector("#netdetail").innerText`)
	if !strings.Contains(text, "answer: "+target.pop+" by ecs") || !strings.Contains(text, "("+target.source+")") {
		t.Errorf("explained %v:\n%s\nwant answer %s by ecs from an entry (%s)", target.net, text, target.pop, target.source)
	}

	// The Hilbert view: the network's /24 in its PoP's colour at zoom 5
	// (each /24 a 2×2 block).
	if err := chromedp.Do(ctx, chromedp.Click(`button[data-tab="hilbert"]`)); err != nil {
		t.Fatal(err)
	}
	hp := evalJS[[]float64](ctx, t, fmt.Sprintf(`steerUI.hilbert.locate(%q, 5)`, target.net.Addr()), chromedp.EvalAwaitPromise)
	waitJS(ctx, t, `steerUI.hilbert.tilesLoaded()`)
	shot3 := screenshot(ctx, t)
	if got := browser.RGBA(shot3, int(hp[0]), int(hp[1])); popColours[got] != target.pop {
		t.Errorf("the Hilbert view draws %v's /24 %v (%q), want %s", target.net, got, popColours[got], target.pop)
	}

	// The evaluation: the gain distribution is plotted with its readings.
	if err := chromedp.Do(ctx, chromedp.Click(`button[data-tab="eval"]`)); err != nil {
		t.Fatal(err)
	}
	waitJS(ctx, t, `!!document.querySelector("#gainplot svg path") && document.querySelectorAll("#regions tr").length > 5`)
	if r := evalJS[string](ctx, t, `document.querySelector("#readings").innerText`); !strings.Contains(r, "20 ms") {
		t.Errorf("readings: %q", r)
	}
	// ... and the planner's new site and loss curve.
	waitJS(ctx, t, `!!document.querySelector("#planbox svg")`)
	if p := evalJS[string](ctx, t, `document.querySelector("#planbox").innerText`); !strings.Contains(p, "+1") || !strings.Contains(p, "Lagos") {
		t.Errorf("plan: %q", p)
	}
}

// farNetwork is the heaviest IPv4 test network at least 400 km from every
// PoP and well inside its resolution-2 hexagon (so that a click at its
// pixel lands in its hexagon).
func farNetwork(t *testing.T, tw *testWorld, m *Model) testNet {
	for _, n := range tw.nets {
		if !n.net.Addr().Is4() || !insideHex(n.lat, n.lon) {
			continue
		}
		far := true
		for _, p := range m.pops {
			if geoip.Distance(n.lat, n.lon, p.Lat, p.Lon) < 400 {
				far = false
			}
		}
		if far {
			return n
		}
	}
	t.Fatal("no IPv4 network far from the PoPs")
	return testNet{}
}

// insideHex says whether lat, lon is well inside its resolution-2
// hexagon: a click at its pixel at the first zoom lands in that hexagon.
func insideHex(lat, lon float64) bool {
	c := h3.LatLngToCell(h3.LatLng{Lat: lat, Lng: lon}, 2)
	for _, d := range [][2]float64{{0.6, 0}, {-0.6, 0}, {0, 0.6}, {0, -0.6}, {0.6, 0.6}, {-0.6, -0.6}, {0.6, -0.6}, {-0.6, 0.6}} {
		if h3.LatLngToCell(h3.LatLng{Lat: lat + d[0], Lng: lon + d[1]}, 2) != c {
			return false
		}
	}
	return true
}

// TestScreenshots writes the README's screenshots of a kept demo world:
//
//	steer demo --keep /tmp/demo
//	STEER_UI_DEMO=/tmp/demo STEER_UI_SCREENSHOTS=$PWD/docs/img go test -run TestScreenshots ./ui/
func TestScreenshots(t *testing.T) {
	demo, out := os.Getenv("STEER_UI_DEMO"), os.Getenv("STEER_UI_SCREENSHOTS")
	if demo == "" || out == "" {
		t.Skip("set STEER_UI_DEMO (a steer demo --keep directory) and STEER_UI_SCREENSHOTS (where to write)")
	}
	o, closer, err := Open(Files{Map: filepath.Join(demo, "latency.json"), World: filepath.Join(demo, "world")})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = closer.Close() }()
	m, err := Load(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewServer(m, nil))
	defer srv.Close()
	ctx := browser.Start(t, 1400, 800, 2*time.Minute)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	waitJS(ctx, t, `document.body.dataset.ready === "1"`)
	// Europe, zoomed, with a hexagon in Germany clicked and explained.
	evalJS[any](ctx, t, `steerUI.world.zoomTo(10, 50, 4)`)
	waitJS(ctx, t, `steerUI.world.level() === steerUI.summary.resolutions[2]`)
	pos := evalJS[[]float64](ctx, t, `steerUI.world.project(13.4, 52.5)`)
	if err := chromedp.Do(ctx, chromedp.MouseClickXY(pos[0], pos[1])); err != nil {
		t.Fatal(err)
	}
	waitJS(ctx, t, `!!document.querySelector("tr.click")`)
	if err := chromedp.Do(ctx, chromedp.Click(`tr.click`)); err != nil {
		t.Fatal(err)
	}
	waitJS(ctx, t, `!!document.querySelector("#rule")`)
	save(ctx, t, filepath.Join(out, "ui-explorer.png"))
	evalJS[any](ctx, t, `steerUI.world.zoomTo(0, 20, 1)`)
	evalJS[any](ctx, t, `steerUI.world.setColour("gain")`)
	save(ctx, t, filepath.Join(out, "ui-gain-map.png"))
	if err := chromedp.Do(ctx, chromedp.Click(`button[data-tab="hilbert"]`)); err != nil {
		t.Fatal(err)
	}
	evalJS[any](ctx, t, `steerUI.hilbert.view(1)`)
	waitJS(ctx, t, `steerUI.hilbert.tilesLoaded()`)
	save(ctx, t, filepath.Join(out, "ui-hilbert.png"))
	if err := chromedp.Do(ctx, chromedp.Click(`button[data-tab="eval"]`)); err != nil {
		t.Fatal(err)
	}
	waitJS(ctx, t, `!!document.querySelector("#gainplot svg path")`)
	save(ctx, t, filepath.Join(out, "ui-evaluation.png"))
}

func save(ctx context.Context, t *testing.T, path string) {
	t.Helper()
	_, b, err := browser.Screenshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func waitJS(ctx context.Context, t *testing.T, expr string) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := browser.WaitJS(wctx, expr); err != nil {
		e, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.dataset.error || ""`))
		d, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#detail").innerText.slice(0, 400)`))
		t.Fatalf("waiting for %s: %v (page error: %q; side panel: %q)", expr, err, e, d)
	}
}

func evalJS[T any](ctx context.Context, t *testing.T, expr string, opts ...chromedp.EvaluateOption) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, opts...))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

func screenshot(ctx context.Context, t *testing.T) image.Image {
	t.Helper()
	img, _, err := browser.Screenshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// crop is the part r of img.
func crop(img image.Image, r image.Rectangle) image.Image {
	return img.(interface {
		SubImage(image.Rectangle) image.Image
	}).SubImage(r)
}

// countColours counts the pixels whose colour is one of cs.
func countColours(img image.Image, cs map[color.RGBA]string) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if _, ok := cs[browser.RGBA(img, x, y)]; ok {
				n++
			}
		}
	}
	return n
}

// differing counts the pixels that differ between two images.
func differing(a, b image.Image) int {
	n := 0
	r := a.Bounds().Intersect(b.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if !browser.Near(browser.RGBA(a, x, y), browser.RGBA(b, x, y), 2) {
				n++
			}
		}
	}
	return n
}
