// Package browser starts Debian's headless Chromium for the project's
// browser tests (github.com/chromedp/chromedp over the DevTools protocol)
// with the flags this environment needs, and reads pixels back from its
// screenshots. Only tests import it.
package browser

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Start starts a headless Chromium with a w×h window and returns a browser
// context bounded by timeout; everything is torn down by t.Cleanup. It
// skips the test when chromium is not installed (scripts/install-test-deps.sh
// installs it, as make test does).
func Start(t testing.TB, w, h int, timeout time.Duration) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not found in PATH: install the Debian package chromium (scripts/install-test-deps.sh does, as root)")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(w, h),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("force-device-scale-factor", "1"),
	}
	ctx, cancelT := context.WithTimeout(context.Background(), timeout)
	actx, cancelA := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelB := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancelB(); cancelA(); cancelT() })
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	if os.Getenv("STEER_BROWSER_DEBUG") != "" {
		t.Logf("chromium %s started", path)
	}
	return bctx
}

// Screenshot takes a screenshot of the viewport and decodes it.
func Screenshot(ctx context.Context) (image.Image, []byte, error) {
	b, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		return nil, nil, err
	}
	img, err := png.Decode(bytes.NewReader(b))
	return img, b, err
}

// WaitJS polls expr, a JavaScript expression, until it is true or ctx is
// done.
func WaitJS(ctx context.Context, expr string) error {
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond)))
	return err
}

// Dominant is the most common colour in the (2r+1)² square around x, y.
func Dominant(img image.Image, x, y, r int) color.RGBA {
	count := map[color.RGBA]int{}
	var best color.RGBA
	for dy := -r; dy <= r; dy++ {
		for dx := -r; dx <= r; dx++ {
			c := RGBA(img, x+dx, y+dy)
			count[c]++
			if count[c] > count[best] {
				best = c
			}
		}
	}
	return best
}

// RGBA is the colour at x, y.
func RGBA(img image.Image, x, y int) color.RGBA {
	r, g, b, a := img.At(x, y).RGBA()
	return color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), uint8(a >> 8)}
}

// Near reports whether two colours differ by at most tol in each channel.
func Near(a, b color.RGBA, tol int) bool {
	d := func(x, y uint8) int {
		if x > y {
			return int(x - y)
		}
		return int(y - x)
	}
	return d(a.R, b.R) <= tol && d(a.G, b.G) <= tol && d(a.B, b.B) <= tol
}
