package web_test

import (
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/steer-gslb/steer/rum"
)

// TestRUMJSFollowsPlanInChromium: with a plan in the PoP list (the
// collector's /rum/plan.json), rum.js times only the PoPs the plan names
// (and anycast), never the others, and keeps the plan's next_s in
// localStorage. The beacon is valid in Strict mode as ever.
func TestRUMJSFollowsPlanInChromium(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not found in PATH: install the Debian package chromium (scripts/install-test-deps.sh does, as root) to run the browser test")
	}
	e := newEnv(t, false)
	pj := e.coll.popsJSON
	// "gone" is not in the list: ignored; the delayed ams is not planned
	e.coll.planJSON = fmt.Appendf(slices.Clip(pj[:len(pj)-1]), `,"plan":{"network":"127.0.0.0/24","pops":["sin","gone","fra"],"next_s":600}}`)
	page := `<!doctype html><html><head><title>plan</title><script>
function report(what) { navigator.sendBeacon("/page-error", String(what)); }
addEventListener("error", function (e) { report(e.message); });
addEventListener("unhandledrejection", function (e) { report(e.reason); });
var poll = setInterval(function () {
	var v = localStorage.getItem("steerRUM.next");
	if (v) { clearInterval(poll); navigator.sendBeacon("` + e.collSrv.URL + `/next", v); }
}, 20);
</script><script async src="/rum.js" data-collector="` + e.collSrv.URL + `/beacon" data-pops="` + e.collSrv.URL + `/rum/plan.json" data-dns-test="` + e.dnsTest(t) + `"></script>
</head><body><p>plan</p></body></html>`
	e.pageHTML.Store(&page)

	start := time.Now()
	stderr := runChromium(t, chromium, e.page.URL+"/")
	var got []received
	for deadline := time.Now().Add(2 * time.Second); len(got) == 0 && time.Now().Before(deadline); {
		select {
		case <-e.coll.got:
		case <-time.After(50 * time.Millisecond):
		}
		got = e.coll.all()
	}
	if len(got) != 1 {
		t.Fatalf("collector got %d beacons, want 1; probe requests %v; chromium stderr:\n%s", len(got), e.probeCounts(), tail(stderr, 4000))
	}
	if got[0].err != nil {
		t.Fatalf("beacon rejected in Strict mode: %v\n%s", got[0].err, got[0].body)
	}
	var targets []string
	for _, s := range got[0].beacon.Samples {
		targets = append(targets, s.Target)
	}
	slices.Sort(targets)
	if want := []string{rum.Anycast, "fra", "sin"}; !slices.Equal(targets, want) {
		t.Errorf("samples for %v, want %v (the plan's PoPs and anycast)", targets, want)
	}
	if n := e.probeCounts()[delayedPoP]; n != 0 {
		t.Errorf("%s, not in the plan, got %d probe requests", delayedPoP, n)
	}
	e.mu.Lock()
	if len(e.pageErrors) > 0 {
		t.Errorf("the page saw errors: %q", e.pageErrors)
	}
	e.mu.Unlock()

	// next_s: 600 s from when the plan arrived, in ms since the epoch
	var next *string
	for deadline := time.Now().Add(2 * time.Second); next == nil && time.Now().Before(deadline); {
		if next = e.coll.next.Load(); next == nil {
			<-time.After(20 * time.Millisecond)
		}
	}
	if next == nil {
		t.Fatal("the page never found steerRUM.next in localStorage")
	}
	ms, err := strconv.ParseFloat(*next, 64)
	at := time.UnixMilli(int64(ms))
	if err != nil || at.Before(start.Add(599*time.Second)) || at.After(time.Now().Add(601*time.Second)) {
		t.Errorf("steerRUM.next = %q, want about 600 s after the run", *next)
	}
}
