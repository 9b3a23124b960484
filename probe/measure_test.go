package probe

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/steer-gslb/steer/rum"
)

// TestMeasureRanking measures three PoPs whose endpoints answer after 0,
// 30 and 60 ms and an anycast URL served by "ams". The added delay is a
// lower bound on the difference, so the assertions use each target's
// minimum over a few rounds (a loaded machine only adds time) and compare
// with a margin.
func TestMeasureRanking(t *testing.T) {
	fast := probeServer(t, "fra", 0)
	mid := probeServer(t, "ams", 30*time.Millisecond)
	slow := probeServer(t, "lhr", 60*time.Millisecond)
	anycast := probeServer(t, "ams", 0)
	cfg := Config{
		Targets: []Target{
			{"lhr", slow.URL + Path}, {"fra", fast.URL + Path}, {"anycast", anycast.URL + Path}, {"ams", mid.URL + Path},
		},
		Kind:       rum.KindCLI,
		Timeout:    10 * time.Second,
		HTTPClient: fast.Client(),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	minRTT := map[string]float64{}
	const rounds = 4
	for i := range rounds {
		start := time.Now()
		r, err := MeasureRound(ctx, cfg)
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		if r.Failed != 0 || len(r.Results) != 4 {
			t.Fatalf("round %d: %d failed of %d: %+v", i, r.Failed, len(r.Results), r.Results)
		}
		b := checkBeacon(t, r.Beacon)
		if b.V != 1 || b.Agent != (rum.Agent{Kind: "cli", Platform: platform(runtime.GOOS), Timer: "monotonic"}) || b.DNSTest != "" || b.ClientSubnet.IsValid() {
			t.Errorf("round %d: beacon header %+v", i, b)
		}
		// Samples come in target order, whatever order they finished in.
		var order []string
		for _, s := range b.Samples {
			order = append(order, s.Target)
			if s.Probe != rum.ProbeHTTPS {
				t.Errorf("%s: probe %v, want https", s.Target, s.Probe)
			}
			if s.TS.Before(start.Add(-time.Second).UTC()) || s.TS.After(time.Now().UTC()) || s.TS.Location() != time.UTC {
				t.Errorf("%s: ts %v not within the round", s.Target, s.TS)
			}
			if s.Target == "anycast" {
				if s.ServedBy != "ams" {
					t.Errorf("anycast served_by = %q, want ams", s.ServedBy)
				}
			} else if s.ServedBy != "" {
				t.Errorf("%s: served_by = %q, want none for a PoP target", s.Target, s.ServedBy)
			}
			if m, ok := minRTT[s.Target]; !ok || s.RTTms < m {
				minRTT[s.Target] = s.RTTms
			}
		}
		if got := strings.Join(order, ","); got != "lhr,fra,anycast,ams" {
			t.Errorf("sample order %s, want target order", got)
		}
		for _, res := range r.Results {
			tm := res.Timing
			if tm.Connect <= 0 || tm.TLS <= 0 || tm.FirstByte <= 0 || tm.RTT <= 0 || tm.DNS != 0 {
				t.Errorf("%s: timing %+v: want connect, TLS, first byte and RTT, no DNS (IP literal)", res.Target.Label, tm)
			}
			if !res.Reused {
				t.Errorf("%s: the measured request did not reuse the first request's connection", res.Target.Label)
			}
		}
	}
	t.Logf("minimum rtt_ms over %d rounds: %v", rounds, minRTT)
	// Hard bounds: the server-side delay is always part of the RTT.
	if minRTT["ams"] < 30 || minRTT["lhr"] < 60 {
		t.Errorf("ams %.3f ms, lhr %.3f ms: want ≥ 30 and ≥ 60 (the added delays)", minRTT["ams"], minRTT["lhr"])
	}
	// Orderings with a margin of 5 ms for the noise of a shared machine.
	const margin = 5
	if minRTT["ams"]-minRTT["fra"] < 30-margin || minRTT["lhr"]-minRTT["ams"] < 30-margin {
		t.Errorf("fra %.3f, ams %.3f, lhr %.3f ms: want each ≥ %d ms more than the one before", minRTT["fra"], minRTT["ams"], minRTT["lhr"], 30-margin)
	}
	if minRTT["anycast"] >= minRTT["ams"] {
		t.Errorf("anycast %.3f ms ≥ ams %.3f ms: want the undelayed anycast endpoint faster", minRTT["anycast"], minRTT["ams"])
	}
}

// TestMeasureFailures: a PoP that is down, one whose TLS handshake never
// completes, one that accepts the request and never answers, and several
// kinds of wrong answer. Each leaves its sample out and is counted; the
// beacon holds the rest; the round costs about one timeout, not one per
// hung target.
func TestMeasureFailures(t *testing.T) {
	good := probeServer(t, "fra", 0)
	anycast := probeServer(t, "ams", 0)
	wrongPoP := probeServer(t, "lhr", 0)
	redirect := httptest.NewTLSServer(http.RedirectHandler("https://portal.example.net/", http.StatusFound))
	t.Cleanup(redirect.Close)
	notFound := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(notFound.Close)
	const timeout = 500 * time.Millisecond
	cfg := Config{
		Targets: []Target{
			{"fra", good.URL + Path},
			{"down", closedURL(t)},
			{"tls-hang", silentListener(t)},
			{"answer-hang", hangingServer(t).URL + Path},
			{"anycast", anycast.URL + Path},
			{"wrong-pop", wrongPoP.URL + Path},
			{"redirect", redirect.URL + Path},
			{"not-found", notFound.URL + Path},
		},
		Timeout:     timeout,
		Concurrency: 8,
		HTTPClient:  good.Client(),
	}
	start := time.Now()
	r, err := MeasureRound(context.Background(), cfg)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	// Both hung targets run at once and each is cut at the timeout; allow
	// generous slack for a loaded machine, far below two timeouts + slack.
	if took < timeout || took > timeout+3*time.Second {
		t.Errorf("round took %v, want about the %v timeout", took, timeout)
	}
	if r.Failed != 6 {
		t.Errorf("Failed = %d, want 6", r.Failed)
	}
	b := checkBeacon(t, r.Beacon)
	if len(b.Samples) != 2 || b.Samples[0].Target != "fra" || b.Samples[1].Target != "anycast" || b.Samples[1].ServedBy != "ams" {
		t.Errorf("samples %+v, want fra and anycast (served by ams)", b.Samples)
	}
	wantErr := map[string]string{
		"down":        "connection refused",
		"tls-hang":    "no answer within the 500ms timeout",
		"answer-hang": "no answer within the 500ms timeout",
		"wrong-pop":   `answered by PoP "lhr" (X-Edge-PoP), not "wrong-pop"`,
		"redirect":    `302 Found, redirected to "https://portal.example.net/": not a probe endpoint`,
		"not-found":   "404 Not Found: not a probe endpoint",
	}
	for _, res := range r.Results {
		want, bad := wantErr[res.Target.Label]
		switch {
		case !bad && res.Err != nil:
			t.Errorf("%s: %v", res.Target.Label, res.Err)
		case bad && (res.Err == nil || !strings.Contains(res.Err.Error(), want)):
			t.Errorf("%s: error %v, want %q", res.Target.Label, res.Err, want)
		}
		if strings.HasSuffix(res.Target.Label, "-hang") && !errors.Is(res.Err, context.DeadlineExceeded) {
			t.Errorf("%s: %v is not context.DeadlineExceeded", res.Target.Label, res.Err)
		}
	}
}

// TestMeasureTimeoutBoundsRound: with concurrency 1 a hung target still
// costs only its timeout, and the targets after it are measured.
func TestMeasureTimeoutBoundsRound(t *testing.T) {
	good := probeServer(t, "fra", 0)
	const timeout = 300 * time.Millisecond
	cfg := Config{
		Targets:     []Target{{"hung", silentListener(t)}, {"fra", good.URL + Path}},
		Timeout:     timeout,
		Concurrency: 1,
		HTTPClient:  good.Client(),
	}
	start := time.Now()
	b, err := Measure(context.Background(), cfg)
	if took := time.Since(start); took < timeout || took > timeout+3*time.Second {
		t.Errorf("round took %v, want about the %v timeout", took, timeout)
	}
	if err != nil || len(b.Samples) != 1 || b.Samples[0].Target != "fra" {
		t.Fatalf("Measure = %+v, %v; want fra's sample", b, err)
	}
}

func TestMeasureNoSamples(t *testing.T) {
	cfg := Config{Targets: []Target{{"fra", closedURL(t)}, {"anycast", closedURL(t)}}, Timeout: 5 * time.Second}
	r, err := MeasureRound(context.Background(), cfg)
	if !errors.Is(err, ErrNoSamples) || !strings.Contains(err.Error(), "fra: ") || !strings.Contains(err.Error(), "anycast: ") {
		t.Fatalf("err = %v, want ErrNoSamples naming both targets", err)
	}
	if r == nil || r.Beacon != nil || r.Failed != 2 || len(r.Results) != 2 {
		t.Errorf("round %+v: want the results and no beacon", r)
	}
	if b, err := Measure(context.Background(), cfg); b != nil || !errors.Is(err, ErrNoSamples) {
		t.Errorf("Measure = %v, %v", b, err)
	}
}

// TestMeasureCanceled: a round whose context ends stops at once.
func TestMeasureCanceled(t *testing.T) {
	cfg := Config{Targets: []Target{{"a", silentListener(t)}, {"b", silentListener(t)}, {"c", silentListener(t)}}, Concurrency: 1, Timeout: time.Minute}
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := MeasureRound(ctx, cfg)
		res <- err
	}()
	cancel()
	select {
	case err := <-res:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("MeasureRound did not return after its context was canceled")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %v", took)
	}
}

// TestMeasureTargetsURL: the PoP list is fetched each round and added to
// the configured targets.
func TestMeasureTargetsURL(t *testing.T) {
	fra := probeServer(t, "fra", 0)
	ams := probeServer(t, "ams", 0)
	doc, err := MarshalTargets([]Target{{"ams", ams.URL + Path}, {"anycast", ams.URL + Path}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/rum/pops.json", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(doc) })
	list := httptest.NewServer(mux)
	t.Cleanup(list.Close)
	cfg := Config{Targets: []Target{{"fra", fra.URL + Path}}, TargetsURL: list.URL + "/rum/pops.json", HTTPClient: fra.Client()}
	b, err := Measure(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range checkBeacon(t, b).Samples {
		got = append(got, s.Target+"/"+s.ServedBy)
	}
	if strings.Join(got, " ") != "fra/ ams/ anycast/ams" {
		t.Errorf("samples %v", got)
	}
	cfg.Targets = []Target{{"ams", fra.URL + Path}}
	if _, err := Measure(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), `"ams" already names targets[0]`) {
		t.Errorf("duplicate label across config and list: %v", err)
	}
	cfg.TargetsURL = list.URL + "/missing"
	if _, err := Measure(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "fetching PoP list") {
		t.Errorf("unreachable list: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	ok := []Target{{"fra", "https://127.0.0.1/rum/probe"}}
	for _, tc := range []struct {
		name string
		cfg  Config
		err  string
	}{
		{"no targets", Config{}, "no targets and no PoP list URL"},
		{"bad label", Config{Targets: []Target{{"FRA", "https://x/"}}}, `targets[0].label: "FRA" is not a PoP label`},
		{"bad url", Config{Targets: []Target{{"fra", "x"}}}, `targets[0].url: "x": want an http or https URL`},
		{"concurrency", Config{Targets: ok, Concurrency: -1}, "concurrency -1"},
		{"timeout", Config{Targets: ok, Timeout: -time.Second}, "timeout -1s"},
		{"kind", Config{Targets: ok, Kind: "web"}, `kind "web"`},
		{"platform", Config{Targets: ok, Platform: "lin\nux"}, "platform"},
		{"zone", Config{Targets: ok, RUMZone: "rum..example.net"}, `rum zone "rum..example.net": empty label`},
		{"zone char", Config{Targets: ok, RUMZone: "rum.ex ample.net"}, "bad character"},
		{"zone long", Config{Targets: ok, RUMZone: strings.Repeat("a.", 120) + "net"}, "longer than"},
		{"resolver", Config{Targets: ok, Resolver: "127.0.0.1"}, `resolver "127.0.0.1": want host:port`},
		{"resolver port", Config{Targets: ok, Resolver: "127.0.0.1:dns"}, `bad port "dns"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Measure(context.Background(), tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Measure(%+v) = %v, want error containing %q", tc.cfg, err, tc.err)
			}
		})
	}
	c, err := Config{Targets: ok, RUMZone: "RUM.Example.NET."}.withDefaults()
	if err != nil || c.RUMZone != "rum.example.net" || c.Kind != rum.KindDesktop || c.Concurrency != DefaultConcurrency || c.Timeout != DefaultTimeout || c.Platform != platform(runtime.GOOS) {
		t.Errorf("withDefaults = %+v, %v", c, err)
	}
}

func TestRandomLabel(t *testing.T) {
	re := regexp.MustCompile(`^[a-z0-9]{12}$`)
	seen := map[string]bool{}
	for range 1000 {
		l := randomLabel()
		if !re.MatchString(l) || seen[l] {
			t.Fatalf("randomLabel() = %q (repeated: %v)", l, seen[l])
		}
		seen[l] = true
	}
}
