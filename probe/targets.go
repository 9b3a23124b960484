package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/steer-gslb/steer/rum"
)

// Target is one URL to measure: a PoP's probe URL under its label, or the
// anycast URL under the label [rum.Anycast].
type Target struct {
	Label string // a PoP label, or "anycast"
	URL   string // absolute http(s) URL of a probe endpoint
}

// Limits of the PoP list.
const (
	// MaxTargetsSize bounds the PoP list document: 256 targets with long
	// URLs fit in a fraction of it.
	MaxTargetsSize = 1 << 20
	// maxURLLen bounds one target URL.
	maxURLLen = 2048
	// maxLabelLen is the longest PoP label (config.CheckLabel's rule).
	maxLabelLen = rum.MaxLabelLen
)

// targetsDoc is the JSON form of the PoP list (see the package doc).
type targetsDoc struct {
	PoPs    []popDoc `json:"pops"`
	Anycast string   `json:"anycast,omitempty"`
}

type popDoc struct {
	Label string `json:"label"`
	URL   string `json:"url"`
}

// FetchTargets GETs the PoP list at rawURL (the collector's
// /rum/pops.json) with client (nil: [http.DefaultClient]) and returns its
// targets: the PoPs in document order, then the anycast target if the
// document names one. A status other than 200, a document larger than
// [MaxTargetsSize] or one [ParseTargets] rejects is an error.
func FetchTargets(ctx context.Context, rawURL string, client *http.Client) ([]Target, error) {
	body, err := fetchList(ctx, rawURL, client)
	if err != nil {
		return nil, err
	}
	ts, err := ParseTargets(body)
	if err != nil {
		return nil, fmt.Errorf("PoP list %s: %w", rawURL, err)
	}
	return ts, nil
}

// ParseTargets parses a PoP list document (see the package doc) and
// validates it with [CheckTargets]. Unknown keys are ignored, so that
// deployed agents keep working when the collector adds fields.
func ParseTargets(data []byte) ([]Target, error) {
	if len(data) > MaxTargetsSize {
		return nil, fmt.Errorf("larger than %d bytes", MaxTargetsSize)
	}
	var doc targetsDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			if te.Field == "" {
				return nil, fmt.Errorf("not a PoP list: want a JSON object, got a JSON %s", te.Value)
			}
			return nil, fmt.Errorf("%s: wrong type: got a JSON %s", te.Field, te.Value)
		}
		return nil, fmt.Errorf("not a PoP list: %w", err)
	}
	ts := make([]Target, 0, len(doc.PoPs)+1)
	for i, p := range doc.PoPs {
		if p.Label == rum.Anycast {
			return nil, fmt.Errorf("pops[%d].label: %q is reserved for the anycast target (use the \"anycast\" key)", i, p.Label)
		}
		ts = append(ts, Target(p))
	}
	if doc.Anycast != "" {
		ts = append(ts, Target{Label: rum.Anycast, URL: doc.Anycast})
	}
	if err := CheckTargets(ts); err != nil {
		return nil, renameTargetErr(err, len(doc.PoPs))
	}
	return ts, nil
}

// MarshalTargets writes targets as a PoP list document, the form
// [ParseTargets] reads: the PoPs in order, and the anycast target, if any,
// under "anycast". It validates them first with [CheckTargets].
func MarshalTargets(ts []Target) ([]byte, error) {
	if err := CheckTargets(ts); err != nil {
		return nil, err
	}
	doc := targetsDoc{PoPs: []popDoc{}}
	for _, t := range ts {
		if t.Label == rum.Anycast {
			doc.Anycast = t.URL
			continue
		}
		doc.PoPs = append(doc.PoPs, popDoc(t))
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// targetErr is a problem with targets[Index].
type targetErr struct {
	Index int
	Field string // "label" or "url"
	Msg   string
}

func (e *targetErr) Error() string {
	return "targets[" + strconv.Itoa(e.Index) + "]." + e.Field + ": " + e.Msg
}

// renameTargetErr restates a *targetErr in the document's terms:
// targets[i] is pops[i], or "anycast" past the PoPs.
func renameTargetErr(err error, npops int) error {
	var te *targetErr
	if !errors.As(err, &te) {
		return err
	}
	if te.Index >= npops {
		return errors.New("anycast: " + te.Msg)
	}
	return errors.New("pops[" + strconv.Itoa(te.Index) + "]." + te.Field + ": " + te.Msg)
}

// CheckTargets reports the first problem with a target list: none at all,
// more than [rum.MaxSamples] (one beacon must hold a sample of each), a
// label that is neither a PoP label (1..32 of [a-z0-9-]) nor "anycast", a
// duplicate label, or a URL that is not an absolute http or https URL
// without user info and fragment. Errors name the target by index.
func CheckTargets(ts []Target) error {
	if len(ts) == 0 {
		return errors.New("no targets")
	}
	if len(ts) > rum.MaxSamples {
		return fmt.Errorf("%d targets: at most %d fit in one beacon", len(ts), rum.MaxSamples)
	}
	seen := make(map[string]int, len(ts))
	for i, t := range ts {
		if t.Label != rum.Anycast {
			if err := checkLabel(t.Label); err != nil {
				return &targetErr{i, "label", err.Error()}
			}
		}
		if j, dup := seen[t.Label]; dup {
			return &targetErr{i, "label", fmt.Sprintf("%q already names targets[%d]", t.Label, j)}
		}
		seen[t.Label] = i
		if _, err := checkURL(t.URL); err != nil {
			return &targetErr{i, "url", err.Error()}
		}
	}
	return nil
}

// checkURL parses an absolute http or https URL and returns the probe kind
// its scheme gives.
func checkURL(s string) (rum.Probe, error) {
	if s == "" {
		return 0, errors.New("required")
	}
	if len(s) > maxURLLen {
		return 0, fmt.Errorf("longer than %d bytes", maxURLLen)
	}
	u, err := url.Parse(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a URL", s)
	}
	var p rum.Probe
	switch u.Scheme {
	case "https":
		p = rum.ProbeHTTPS
	case "http":
		p = rum.ProbeHTTP
	default:
		return 0, fmt.Errorf("%q: want an http or https URL", s)
	}
	switch {
	case u.Host == "" || u.Hostname() == "":
		return 0, fmt.Errorf("%q: no host", s)
	case u.User != nil:
		return 0, fmt.Errorf("%q: user info is not allowed", s)
	case u.Fragment != "" || u.RawFragment != "":
		return 0, fmt.Errorf("%q: a fragment is not allowed", s)
	}
	return p, nil
}

// checkLabel is config.CheckLabel's rule for a PoP label: 1..32 of
// [a-z0-9-], not the reserved "anycast". (This package does not import
// config, which would pull YAML into every agent;
// TestLabelRuleMatchesConfig keeps the two equal.)
func checkLabel(l string) error {
	if l == "" {
		return errors.New("empty PoP label")
	}
	if len(l) > maxLabelLen {
		return fmt.Errorf("PoP label %.40q longer than %d characters", l, maxLabelLen)
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return fmt.Errorf("%q is not a PoP label (want 1..%d of [a-z0-9-])", l, maxLabelLen)
		}
	}
	if l == rum.Anycast {
		return fmt.Errorf("PoP label %q is reserved for the anycast target", l)
	}
	return nil
}

// bodySnippet returns ": " and the start of an error response's body, for
// error messages (the collector's 4xx bodies name the problem).
func bodySnippet(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return ""
	}
	const maxSnippet = 200
	if len(b) > maxSnippet {
		return ": " + strconv.QuoteToASCII(string(b[:maxSnippet])) + "…"
	}
	return ": " + strconv.QuoteToASCII(string(b))
}
