package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/steer-gslb/steer/rum"
)

// Defaults of Config's zero values.
const (
	DefaultConcurrency = 4
	DefaultTimeout     = 5 * time.Second
)

// Timer is the clock the agent declares in its beacons: Go's monotonic
// clock (time.Since on time.Now values).
const Timer = "monotonic"

// Config configures the agent. The zero value of each optional field picks
// its default.
type Config struct {
	// Targets are the URLs to measure. TargetsURL, if set, adds the PoP
	// list fetched from it (FetchTargets) at the start of every round.
	// Together they must pass CheckTargets.
	Targets    []Target
	TargetsURL string
	// IgnorePlan makes the agent measure every PoP of the fetched list
	// even when it carries the collector's plan for the agent's network
	// (/rum/plan.json; see FollowPlan). By default a round measures the
	// plan's PoPs (plus Targets and anycast) and Run waits at least the
	// plan's Next before the following round.
	IgnorePlan bool

	// Collector is the URL beacons are POSTed to; Token, if set, is sent
	// as "Authorization: Bearer <token>" (only over https, or http to a
	// loopback address). Run does not post when Collector is empty.
	Collector string
	Token     string

	// RUMZone is the zone under which one random name is resolved per
	// round ("rum.example.net"); "" runs no DNS test. Resolver is the
	// host:port the query goes to; "" is the system resolver (what a real
	// agent should use: the point is to learn the client's resolver).
	RUMZone  string
	Resolver string

	// Concurrency bounds the targets measured at once (default 4); Timeout
	// bounds each target, the DNS test, FetchTargets and Post (default 5 s).
	Concurrency int
	Timeout     time.Duration

	// Kind is the beacon's agent.kind: rum.KindDesktop (default) or
	// rum.KindCLI. Platform is agent.platform (default runtime.GOOS, with
	// "darwin" called "macos" as in docs/DESIGN.md, "Beacons").
	Kind     string
	Platform string

	// HTTPClient supplies the transport (TLS roots, dialer) for probes,
	// FetchTargets and Post; nil uses http.DefaultTransport's settings.
	// For probes, an *http.Transport is cloned per target and round so
	// that every measurement opens a fresh connection, and its proxy
	// setting is ignored; any other RoundTripper is used as it is.
	HTTPClient *http.Client

	// OnRound, if set, is called by Run after each round with the round
	// (nil if it could not start: bad targets) and the round's error:
	// from measuring, or from posting its beacon.
	OnRound func(*Round, error)
}

// Timing is what one target's measurement took, from Go's monotonic
// clock. Fields of steps that did not happen (DNS for an IP literal) or
// were not reached are zero.
type Timing struct {
	DNS       time.Duration // looking up the target's host name
	Connect   time.Duration // TCP connect: SYN to SYN-ACK, one round trip
	TLS       time.Duration // TLS handshake
	FirstByte time.Duration // first request, connection in hand to first response byte
	RTT       time.Duration // second request on the same connection, likewise: the sample's rtt_ms
}

// Result is the measurement of one target.
type Result struct {
	Target   Target
	Probe    rum.Probe // from the URL's scheme
	TS       time.Time // wall-clock time the measured request started (UTC, ms)
	Timing   Timing
	ServedBy string // the response's X-Edge-PoP, if a valid PoP label (in the sample: anycast only)
	Reused   bool   // the measured request went out on the first one's connection
	Err      error  // non-nil: the target failed and has no sample
}

// Round is one round of measurements.
type Round struct {
	// Beacon holds a sample per target that answered; nil if none did.
	Beacon *rum.Beacon
	// Results has one entry per target, in target order.
	Results []Result
	// Failed counts the targets without a sample.
	Failed int
	// DNSTest is the random name resolved ("" without a RUM zone), and
	// DNSErr what went wrong resolving it. The beacon carries the name
	// even then (see the package doc).
	DNSTest string
	DNSErr  error
	// Plan is the collector's plan the round followed; nil: none (no
	// TargetsURL, no plan in the list, or Config.IgnorePlan).
	Plan *Plan
}

// ErrNoSamples is returned (wrapped, with each target's error) when no
// target of a round answered: there is no beacon to send.
var ErrNoSamples = errors.New("no target answered")

// maxProbeBody bounds how much of a probe response is read. The endpoint
// sends none; a large body means the URL is not a probe endpoint.
const maxProbeBody = 4 << 10

const userAgent = "steer-probe/1"

// dnsTestLen is the length of the random label of the DNS test.
const dnsTestLen = 12

// Measure runs one round: it measures every target (see the package doc for
// what rtt_ms means) and resolves one random name under the RUM zone, and
// returns the beacon. Targets that fail are left out; MeasureRound reports
// them. The error is non-nil if the config is invalid, the PoP list cannot
// be fetched, ctx ends, or no target answered (ErrNoSamples).
func Measure(ctx context.Context, cfg Config) (*rum.Beacon, error) {
	r, err := MeasureRound(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return r.Beacon, nil
}

// MeasureRound is Measure with the details: each target's timings and
// error, and the DNS test's. When no target answered, it returns the Round
// (for its Results) together with an error wrapping ErrNoSamples.
func MeasureRound(ctx context.Context, cfg Config) (*Round, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	targets, plan, err := cfg.targets(ctx)
	if err != nil {
		return nil, err
	}
	r, err := measure(ctx, &cfg, targets)
	if r != nil {
		r.Plan = plan
	}
	return r, err
}

// withDefaults checks cfg and fills in the defaults.
func (c Config) withDefaults() (Config, error) {
	if c.Concurrency < 0 {
		return c, fmt.Errorf("probe config: concurrency %d: must be ≥ 0 (0 = %d)", c.Concurrency, DefaultConcurrency)
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.Timeout < 0 {
		return c, fmt.Errorf("probe config: timeout %v: must be ≥ 0 (0 = %v)", c.Timeout, DefaultTimeout)
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	switch c.Kind {
	case "":
		c.Kind = rum.KindDesktop
	case rum.KindDesktop, rum.KindCLI:
	default:
		return c, fmt.Errorf("probe config: kind %q: want %q or %q", c.Kind, rum.KindDesktop, rum.KindCLI)
	}
	if c.Platform == "" {
		c.Platform = platform(runtime.GOOS)
	}
	if !printable(c.Platform) {
		return c, fmt.Errorf("probe config: platform %q: want 1..%d printable ASCII characters", c.Platform, rum.MaxAgentField)
	}
	if c.RUMZone != "" {
		z, err := checkZone(c.RUMZone)
		if err != nil {
			return c, fmt.Errorf("probe config: rum zone %q: %w", c.RUMZone, err)
		}
		c.RUMZone = z
	}
	if c.Resolver != "" {
		if _, port, err := net.SplitHostPort(c.Resolver); err != nil {
			return c, fmt.Errorf("probe config: resolver %q: want host:port", c.Resolver)
		} else if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
			return c, fmt.Errorf("probe config: resolver %q: bad port %q", c.Resolver, port)
		}
	}
	if len(c.Targets) == 0 && c.TargetsURL == "" {
		return c, errors.New("probe config: no targets and no PoP list URL")
	}
	if len(c.Targets) > 0 {
		if err := CheckTargets(c.Targets); err != nil {
			return c, fmt.Errorf("probe config: %w", err)
		}
	}
	return c, nil
}

// targets returns the round's targets: Targets plus, with a TargetsURL,
// the PoP list fetched now, cut to its plan's PoPs unless IgnorePlan; and
// the plan followed.
func (c *Config) targets(ctx context.Context) ([]Target, *Plan, error) {
	if c.TargetsURL == "" {
		return c.Targets, nil, nil
	}
	fctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	fetched, plan, err := FetchPoPList(fctx, c.TargetsURL, c.HTTPClient)
	if err != nil {
		return nil, nil, err
	}
	if c.IgnorePlan {
		plan = nil
	}
	ts, err := mergeTargets(c.Targets, FollowPlan(fetched, plan))
	return ts, plan, err
}

// mergeTargets appends the fetched list to the configured targets and
// checks the whole.
func mergeTargets(own, fetched []Target) ([]Target, error) {
	ts := append(slices.Clip(own), fetched...)
	if err := CheckTargets(ts); err != nil {
		return nil, fmt.Errorf("configured targets plus PoP list: %w", err)
	}
	return ts, nil
}

// measure runs a round over targets (already checked) with cfg (defaults
// applied).
func measure(ctx context.Context, cfg *Config, targets []Target) (*Round, error) {
	r := &Round{Results: make([]Result, len(targets))}
	newRT := transportFactory(cfg.HTTPClient)
	var wg sync.WaitGroup
	if cfg.RUMZone != "" {
		r.DNSTest = randomLabel() + "." + cfg.RUMZone
		wg.Go(func() { r.DNSErr = resolve(ctx, cfg, r.DNSTest) })
	}
	sem := make(chan struct{}, cfg.Concurrency)
	for i, t := range targets {
		r.Results[i].Target = t
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			r.Results[i].Err = ctx.Err()
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			r.Results[i] = measureTarget(ctx, newRT, t, cfg.Timeout)
		})
	}
	wg.Wait()
	b := &rum.Beacon{V: 1, Agent: rum.Agent{Kind: cfg.Kind, Platform: cfg.Platform, Timer: Timer}, DNSTest: r.DNSTest}
	var fails []string
	for _, res := range r.Results {
		if res.Err != nil {
			r.Failed++
			fails = append(fails, res.Target.Label+": "+res.Err.Error())
			continue
		}
		s := rum.Sample{TS: res.TS, Target: res.Target.Label, Probe: res.Probe, RTTms: durationMs(res.Timing.RTT)}
		if res.Target.Label == rum.Anycast {
			// A PoP target's sample would only repeat its label.
			s.ServedBy = res.ServedBy
		}
		b.Samples = append(b.Samples, s)
	}
	if err := ctx.Err(); err != nil {
		return r, fmt.Errorf("measuring: %w", err)
	}
	if len(b.Samples) == 0 {
		return r, fmt.Errorf("%w (%s)", ErrNoSamples, strings.Join(fails, "; "))
	}
	r.Beacon = b
	return r, nil
}

// durationMs is d in milliseconds, rounded to the microsecond.
func durationMs(d time.Duration) float64 {
	return math.Round(float64(d)/1e3) / 1e3
}

// transportFactory returns a function that makes the round trippers for
// probes: a fresh clone of the client's *http.Transport (or of
// http.DefaultTransport) per target, without proxy, and a function that
// releases its connections; or the client's own round tripper when it is
// something else.
func transportFactory(c *http.Client) func() (http.RoundTripper, func()) {
	var tmpl *http.Transport
	switch {
	case c == nil || c.Transport == nil:
		tmpl, _ = http.DefaultTransport.(*http.Transport)
	default:
		tmpl, _ = c.Transport.(*http.Transport)
	}
	if tmpl == nil {
		rt := c.Transport
		return func() (http.RoundTripper, func()) { return rt, func() {} }
	}
	return func() (http.RoundTripper, func()) {
		t := tmpl.Clone()
		t.Proxy = nil
		t.DisableKeepAlives = false
		t.MaxIdleConnsPerHost = 1
		return t, t.CloseIdleConnections
	}
}

// measureTarget measures one target: a first request that opens the
// connection, then the timed one on it.
func measureTarget(ctx context.Context, newRT func() (http.RoundTripper, func()), t Target, timeout time.Duration) Result {
	res := Result{Target: t}
	res.Probe, res.Err = checkURL(t.URL)
	if res.Err != nil {
		return res
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rt, release := newRT()
	defer release()
	client := &http.Client{
		Transport: rt,
		// A redirect is not the probe endpoint answering (a captive
		// portal, a misconfigured URL): fail rather than follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	var first, second trace
	if _, err := get(tctx, client, t.URL, &first); err != nil {
		res.Err = timeoutErr(ctx, tctx, timeout, err)
		return res
	}
	res.TS = time.Now().UTC().Truncate(time.Millisecond)
	pop, err := get(tctx, client, t.URL, &second)
	if err != nil {
		res.Err = timeoutErr(ctx, tctx, timeout, err)
		return res
	}
	res.Timing = Timing{
		DNS:       first.span(first.dnsStart, first.dnsDone),
		Connect:   first.span(first.connStart, first.connDone),
		TLS:       first.span(first.tlsStart, first.tlsDone),
		FirstByte: first.span(first.gotConn, first.firstByte),
		RTT:       second.span(second.gotConn, second.firstByte),
	}
	res.Reused = second.reused
	if res.Timing.RTT <= 0 {
		res.Err = errors.New("no request timing recorded (the HTTP client's transport does not report httptrace events)")
		return res
	}
	if pop != "" && checkLabel(pop) == nil {
		res.ServedBy = pop
	}
	if t.Label != rum.Anycast && res.ServedBy != "" && res.ServedBy != t.Label {
		res.Err = fmt.Errorf("answered by PoP %q (%s), not %q: the URL does not reach its PoP", res.ServedBy, HeaderEdgePoP, t.Label)
	}
	return res
}

// timeoutErr says so when the target's own timeout, not the caller's
// context, ended a request.
func timeoutErr(parent, tctx context.Context, timeout time.Duration, err error) error {
	if parent.Err() == nil && errors.Is(tctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no answer within the %v timeout: %w", timeout, err)
	}
	return err
}

// get makes one GET request through tr's hooks and returns the response's
// X-Edge-PoP. The body is read (up to maxProbeBody) so the connection can
// be reused.
func get(ctx context.Context, client *http.Client, url string, tr *trace) (string, error) {
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, tr.hooks()), http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxProbeBody))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		if loc := resp.Header.Get("Location"); loc != "" {
			return "", fmt.Errorf("%s, redirected to %.100q: not a probe endpoint", resp.Status, loc)
		}
		return "", fmt.Errorf("%s: not a probe endpoint", resp.Status)
	}
	if err != nil {
		return "", fmt.Errorf("reading the response: %w", err)
	}
	return resp.Header.Get(HeaderEdgePoP), nil
}

// trace records one request's httptrace events. The hooks may run on other
// goroutines (the transport's dialer and connection loops) and, with Happy
// Eyeballs, concurrently; mu guards every field, and each keeps its first
// value (the first connect attempt's start, the first successful one's
// end).
type trace struct {
	mu                  sync.Mutex
	dnsStart, dnsDone   time.Time
	connStart, connDone time.Time
	tlsStart, tlsDone   time.Time
	gotConn, firstByte  time.Time
	reused              bool
}

func (t *trace) mark(at *time.Time) {
	now := time.Now()
	t.mu.Lock()
	if at.IsZero() {
		*at = now
	}
	t.mu.Unlock()
}

// span returns end − start from the monotonic readings, or 0 if either is
// missing.
func (t *trace) span(start, end time.Time) time.Duration {
	if start.IsZero() || end.IsZero() {
		return 0
	}
	return end.Sub(start)
}

// hooks returns the httptrace hooks. A request is timed from GotConn (the
// connection is in hand, the request about to be written; Resource Timing's
// requestStart) to GotFirstResponseByte (responseStart). GotConn rather
// than WroteRequest, because the transport reports WroteRequest from its
// write goroutine, which may run after the response has already been
// read on a fast path.
func (t *trace) hooks() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		DNSStart: func(httptrace.DNSStartInfo) { t.mark(&t.dnsStart) },
		DNSDone: func(i httptrace.DNSDoneInfo) {
			if i.Err == nil {
				t.mark(&t.dnsDone)
			}
		},
		ConnectStart: func(string, string) { t.mark(&t.connStart) },
		ConnectDone: func(_, _ string, err error) {
			if err == nil {
				t.mark(&t.connDone)
			}
		},
		TLSHandshakeStart: func() { t.mark(&t.tlsStart) },
		TLSHandshakeDone: func(_ tls.ConnectionState, err error) {
			if err == nil {
				t.mark(&t.tlsDone)
			}
		},
		GotConn: func(i httptrace.GotConnInfo) {
			t.mark(&t.gotConn)
			t.mu.Lock()
			t.reused = i.Reused
			t.mu.Unlock()
		},
		GotFirstResponseByte: func() { t.mark(&t.firstByte) },
	}
}

// randomLabel returns dnsTestLen random characters of [a-z0-9], from
// math/rand/v2's global source (ChaCha8, seeded from the OS): the name must
// be new to every cache and not guessable by a resolver prefetching it.
func randomLabel() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b [dnsTestLen]byte
	for i := range b {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return string(b[:])
}

// resolve sends the DNS test query for name (no trailing dot).
func resolve(ctx context.Context, cfg *Config, name string) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	fqdn := name + "."
	if cfg.Resolver == "" {
		if _, err := net.DefaultResolver.LookupIPAddr(ctx, fqdn); err != nil {
			return fmt.Errorf("resolving %s: %w", name, err)
		}
		return nil
	}
	m := new(dns.Msg)
	m.SetQuestion(fqdn, dns.TypeA) // RD set: Resolver is normally a recursive resolver
	m.SetEdns0(1232, false)
	c := &dns.Client{Net: "udp", UDPSize: 1232, Timeout: cfg.Timeout}
	r, _, err := c.ExchangeContext(ctx, m, cfg.Resolver)
	if err != nil {
		return fmt.Errorf("resolving %s at %s: %w", name, cfg.Resolver, err)
	}
	if r.Rcode != dns.RcodeSuccess {
		return fmt.Errorf("resolving %s at %s: %s", name, cfg.Resolver, dns.RcodeToString[r.Rcode])
	}
	return nil
}

// checkZone checks and canonicalises the RUM zone: a DNS name of
// [a-z0-9-_] labels (what a beacon's dns_test may hold), lower-cased,
// without the trailing dot, short enough for the random label in front.
func checkZone(z string) (string, error) {
	z = strings.ToLower(strings.TrimSuffix(z, "."))
	if z == "" {
		return "", errors.New("empty")
	}
	if len(z)+1+dnsTestLen > 253 {
		return "", fmt.Errorf("longer than %d bytes", 253-1-dnsTestLen)
	}
	for _, label := range strings.Split(z, ".") {
		if label == "" {
			return "", errors.New("empty label")
		}
		if len(label) > 63 {
			return "", errors.New("label longer than 63 bytes")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_' {
				return "", fmt.Errorf("bad character %q (want [a-z0-9-_] and dots)", c)
			}
		}
	}
	return z, nil
}

// platform names an OS the way beacons do.
func platform(goos string) string {
	if goos == "darwin" {
		return "macos"
	}
	return goos
}

// printable is rum's rule for agent.platform: 1..MaxAgentField printable
// ASCII characters.
func printable(s string) bool {
	if s == "" || len(s) > rum.MaxAgentField {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}
