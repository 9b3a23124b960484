package control

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/steer-gslb/steer/internal/hugemem"
)

// FollowerOptions configure a Follower.
type FollowerOptions struct {
	URL   string // the control server, e.g. http://127.0.0.1:8480
	Token string // a token with role read
	// Wait is the long poll's wait (default 30s).
	Wait time.Duration
	// ReportEvery is the report period (default 2s); ReportNow sends one
	// at once.
	ReportEvery time.Duration
	// Apply is called with every new state, in index order, from the
	// follower's goroutine. An error is reported to the control server
	// (Report.Error comes from the caller's Report func) and the state is
	// retried after a backoff.
	Apply func(ctx context.Context, st *State) error
	// Report returns the report to send.
	Report func() Report
	Logger *slog.Logger
	Client *http.Client
}

// Follower keeps a DNS server in step with the control server: a long
// poll on GET /v1/state (Consul-style: ?index=N returns when the index
// passes N), and a report every few seconds. When the control server is
// unreachable the follower retries with a jittered backoff (100 ms doubling
// to 2 s) and the server keeps serving its last state; on reconnection the
// first poll returns the current state at once, since its index differs.
type Follower struct {
	o      FollowerOptions
	log    *slog.Logger
	client *http.Client

	contact atomic.Int64 // unix nanoseconds of the last successful poll or report
	kick    chan struct{}

	mu   sync.Mutex
	last *State // last applied; guarded by mu
}

// NewFollower returns a follower; Run starts it.
func NewFollower(o FollowerOptions) *Follower {
	if o.Wait <= 0 {
		o.Wait = 30 * time.Second
	}
	if o.ReportEvery <= 0 {
		o.ReportEvery = 2 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	c := o.Client
	if c == nil {
		c = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, IdleConnTimeout: 90 * time.Second}}
	}
	o.URL = strings.TrimRight(o.URL, "/")
	return &Follower{o: o, log: o.Logger.With("component", "follower"), client: c, kick: make(chan struct{}, 1)}
}

// LastContact is when the control server last answered (zero: never).
func (f *Follower) LastContact() time.Time {
	n := f.contact.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// State returns the last applied state (nil: none yet).
func (f *Follower) State() *State {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

// ReportNow asks for a report as soon as possible.
func (f *Follower) ReportNow() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// Run polls and reports until ctx ends.
func (f *Follower) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		f.reportLoop(ctx)
	}()
	f.pollLoop(ctx)
	wg.Wait()
}

func (f *Follower) pollLoop(ctx context.Context) {
	backoff := time.Duration(0)
	var index uint64 // of the last state applied
	lastErr := ""    // the last poll error logged
	for ctx.Err() == nil {
		if backoff > 0 {
			t := time.NewTimer(backoff/2 + rand.N(backoff/2+1))
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		st, err := f.poll(ctx, index)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			backoff = min(max(2*backoff, 100*time.Millisecond), 2*time.Second)
			// Said once per kind of failure, not per retry: a wrong
			// token or an unreachable server must not go unnoticed, nor
			// flood the log.
			if msg := err.Error(); msg != lastErr {
				lastErr = msg
				f.log.Warn("control server unreachable or refusing; serving the last state", "err", err, "retrying", true)
			}
			continue
		}
		f.contact.Store(time.Now().UnixNano())
		if lastErr != "" {
			f.log.Info("control server reachable again", "index", st.Index)
			lastErr = ""
		}
		if st.Index == index {
			backoff = 0
			continue // the wait ended without a change
		}
		if err := f.o.Apply(ctx, st); err != nil {
			// The index stays, so the next poll returns at once with this
			// state or a newer one: a retry, after a backoff.
			f.log.Warn("applying control state", "index", st.Index, "err", err)
			backoff = min(max(2*backoff, 250*time.Millisecond), 5*time.Second)
			f.ReportNow()
			continue
		}
		backoff = 0
		index = st.Index
		f.mu.Lock()
		f.last = st
		f.mu.Unlock()
		f.ReportNow()
	}
}

func (f *Follower) poll(ctx context.Context, index uint64) (*State, error) {
	ctx, cancel := context.WithTimeout(ctx, f.o.Wait+10*time.Second)
	defer cancel()
	u := f.o.URL + "/v1/state?index=" + strconv.FormatUint(index, 10) + "&wait=" + f.o.Wait.String()
	var st State
	if err := f.do(ctx, http.MethodGet, u, nil, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

func (f *Follower) reportLoop(ctx context.Context) {
	t := time.NewTicker(f.o.ReportEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-f.kick:
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := f.do(rctx, http.MethodPost, f.o.URL+"/v1/fleet/report", f.o.Report(), nil)
		cancel()
		if err == nil {
			f.contact.Store(time.Now().UnixNano())
		} else if ctx.Err() == nil {
			f.log.Debug("report failed", "err", err)
		}
	}
}

// FetchMap downloads a map version and checks it against ref's SHA-256.
func (f *Follower) FetchMap(ctx context.Context, ref MapRef) ([]byte, error) {
	return fetchChecked(ctx, f.client, f.o.Token, f.o.URL+"/v1/maps/"+strconv.Itoa(ref.Version), fmt.Sprintf("map version %d", ref.Version), ref.SHA256)
}

// FetchTable downloads a map version's compiled table and checks it
// against ref's TableSHA256.
func (f *Follower) FetchTable(ctx context.Context, ref MapRef) ([]byte, error) {
	return fetchChecked(ctx, f.client, f.o.Token, f.o.URL+"/v1/maps/"+strconv.Itoa(ref.Version)+"/table", fmt.Sprintf("map version %d's table", ref.Version), ref.TableSHA256)
}

// FetchPatch downloads the load moves st names (PatchID) and checks them
// against its PatchSHA256: a compiled table (popmap.DecodeTable).
func (f *Follower) FetchPatch(ctx context.Context, st *State) ([]byte, error) {
	return fetchChecked(ctx, f.client, f.o.Token, f.o.URL+"/v1/patches/"+strconv.FormatUint(st.PatchID, 10), fmt.Sprintf("load-move patch %d", st.PatchID), st.PatchSHA256)
}

// fetchChecked downloads url and checks its SHA-256 against want; what
// names it in errors.
func fetchChecked(ctx context.Context, c *http.Client, token, url, what, want string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var data []byte
	if err := send(ctx, c, token, http.MethodGet, url, nil, "", &data); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if got := sha256Hex(data); got != want {
		return nil, fmt.Errorf("%s: sha256 %s, the control server's state says %s: not loading it", what, got, want)
	}
	return data, nil
}

// sha256Hex names a version file, a compiled table or a patch.
func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// FetchRTT downloads the RTT file published with a map version; ok is
// false when the version has none.
func (f *Follower) FetchRTT(ctx context.Context, version int) (data []byte, ok bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	err = send(ctx, f.client, f.o.Token, http.MethodGet, f.o.URL+"/v1/maps/"+strconv.Itoa(version)+"/rtt", nil, "", &data)
	var he *HTTPError
	if errors.As(err, &he) && he.Code == http.StatusNotFound {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("RTT file of map version %d: %w", version, err)
	}
	return data, true, nil
}

// do sends a JSON request with the token and decodes a JSON answer into
// out (nil: discard).
func (f *Follower) do(ctx context.Context, method, url string, in, out any) error {
	return call(ctx, f.client, f.o.Token, method, url, in, out)
}

func call(ctx context.Context, c *http.Client, token, method, url string, in, out any) error {
	if in == nil {
		return send(ctx, c, token, method, url, nil, "", out)
	}
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return send(ctx, c, token, method, url, bytes.NewReader(b), "application/json", out)
}

// send makes one authenticated call with body (of type ctype; nil: none).
// A non-2xx answer is an *HTTPError; a 2xx answer is decoded as JSON into
// out, or read whole (up to the API's body limit) when out is a *[]byte,
// or discarded when out is nil.
func send(ctx context.Context, c *http.Client, token, method, url string, body io.Reader, ctype string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode/100 != 2 {
		return apiError(resp)
	}
	switch out := out.(type) {
	case nil:
		_, err = io.Copy(io.Discard, resp.Body)
	case *[]byte:
		if n := resp.ContentLength; n > 0 && n <= maxBody {
			// One buffer of the announced size, not ReadAll's doublings
			// (a map version is tens of MB).
			buf := hugemem.Make[byte](int(n))
			if _, err = io.ReadFull(resp.Body, buf); err == nil {
				*out = buf
			}
		} else {
			*out, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
		}
	default:
		err = json.NewDecoder(resp.Body).Decode(out)
	}
	return err
}

// HTTPError is a non-2xx answer of the control server.
type HTTPError struct {
	Code int
	APIError
}

func (e *HTTPError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("control server: %d %s: %s (field %s)", e.Code, http.StatusText(e.Code), e.APIError.Error, e.Field)
	}
	return fmt.Sprintf("control server: %d %s: %s", e.Code, http.StatusText(e.Code), e.APIError.Error)
}

func apiError(resp *http.Response) error {
	e := &HTTPError{Code: resp.StatusCode}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err := json.Unmarshal(b, &e.APIError); err != nil || e.APIError.Error == "" {
		e.APIError.Error = strings.TrimSpace(string(b))
	}
	return e
}

// Client is a CLI's view of the control API.
type Client struct {
	URL, Token string
	HTTP       *http.Client
}

func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	return call(ctx, c.client(), c.Token, method, strings.TrimRight(c.URL, "/")+path, in, out)
}

func (c *Client) client() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 5 * time.Minute}
}

// SetState sets a PoP's admin state (for one record when record != "").
func (c *Client) SetState(ctx context.Context, label, state, record string) (*State, error) {
	var st State
	if err := c.call(ctx, http.MethodPost, "/v1/pops/"+label+"/state", map[string]string{"state": state, "record": record}, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// PoPs lists the PoPs with their state.
func (c *Client) PoPs(ctx context.Context) ([]PoPInfo, error) {
	var out []PoPInfo
	return out, c.call(ctx, http.MethodGet, "/v1/pops", nil, &out)
}

// Fleet returns the fleet's status.
func (c *Client) Fleet(ctx context.Context) (*Fleet, error) {
	var out Fleet
	return &out, c.call(ctx, http.MethodGet, "/v1/fleet", nil, &out)
}

// Publish sends a candidate map.
func (c *Client) Publish(ctx context.Context, req PublishRequest) (*PublishResult, error) {
	var out PublishResult
	return &out, c.call(ctx, http.MethodPost, "/v1/maps", req, &out)
}

// PublishFile publishes the map file at path (and the RTT file at rtt,
// when not ""), streamed as multipart/form-data: a large map is neither
// held in memory nor scanned as JSON on either side.
func (c *Client) PublishFile(ctx context.Context, path, rtt string, force bool, source string) (*PublishResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	var rttData []byte
	if rtt != "" {
		if rttData, err = os.ReadFile(rtt); err != nil {
			return nil, err
		}
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := func() error {
			fields := [][2]string{{"force", strconv.FormatBool(force)}, {"source", source}}
			if rttData != nil {
				fields = append(fields, [2]string{"rtt", string(rttData)})
			}
			for _, kv := range fields {
				if err := mw.WriteField(kv[0], kv[1]); err != nil {
					return err
				}
			}
			part, err := mw.CreateFormFile("map", filepath.Base(path))
			if err != nil {
				return err
			}
			if _, err := io.Copy(part, f); err != nil {
				return err
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	var out PublishResult
	err = send(ctx, c.client(), c.Token, http.MethodPost, strings.TrimRight(c.URL, "/")+"/v1/maps", pr, mw.FormDataContentType(), &out)
	_ = pr.CloseWithError(err) // a refused call stops the writer
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Rollback rolls the active map back.
func (c *Client) Rollback(ctx context.Context) (*PublishResult, error) {
	var out PublishResult
	return &out, c.call(ctx, http.MethodPost, "/v1/maps/rollback", struct{}{}, &out)
}

// Activate makes a published version active.
func (c *Client) Activate(ctx context.Context, version int) (*PublishResult, error) {
	var out PublishResult
	return &out, c.call(ctx, http.MethodPost, "/v1/maps/activate", map[string]int{"version": version}, &out)
}

// ReportLoad posts a PoP's load.
func (c *Client) ReportLoad(ctx context.Context, pop string, load, capacity float64) error {
	return c.call(ctx, http.MethodPost, "/v1/load", map[string]any{"pop": pop, "load": load, "capacity": capacity}, nil)
}

// State returns the fleet's agreed state (GET /v1/state).
func (c *Client) State(ctx context.Context) (*State, error) {
	var st State
	return &st, c.call(ctx, http.MethodGet, "/v1/state", nil, &st)
}

// ActiveMap downloads the active map version, checked against the state's
// SHA-256, and returns it with the state it is active in.
func (c *Client) ActiveMap(ctx context.Context) ([]byte, *State, error) {
	st, err := c.State(ctx)
	if err != nil {
		return nil, nil, err
	}
	if st.Map == nil {
		return nil, st, errors.New("the control server has no active map yet (steer publish --control URL MAP.json)")
	}
	data, err := fetchChecked(ctx, c.client(), c.Token, strings.TrimRight(c.URL, "/")+"/v1/maps/"+strconv.Itoa(st.Map.Version), fmt.Sprintf("map version %d", st.Map.Version), st.Map.SHA256)
	return data, st, err
}
