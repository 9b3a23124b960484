package probe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/steer-gslb/steer/rum"
)

// Plan is the collector's measurement plan for the agent's network (the
// "plan" object of /rum/plan.json, see collector.PlanPath): which PoPs the
// next round should time and how long to wait before it. It is advice: the
// collector accepts beacons with any set of PoPs.
type Plan struct {
	Network string        // the client network it was made for (truncated: /24, /56)
	PoPs    []string      // PoP labels to time
	Next    time.Duration // the wait before the next round
}

// MaxPlanNext bounds a plan's wait: a plan asking for more is an error.
const MaxPlanNext = 30 * 24 * time.Hour

type planDoc struct {
	Network string   `json:"network"`
	PoPs    []string `json:"pops"`
	NextS   *float64 `json:"next_s"`
}

// ParsePoPList parses a PoP list document like ParseTargets and, when it
// has one, its "plan" object: nil when there is none. A plan whose pops
// are not unique PoP labels (at most rum.MaxSamples of them) or whose
// next_s is not a number of seconds in [0, 30 days] is an error naming
// the field. Labels of the plan that the list does not hold are allowed
// (FollowPlan ignores them).
func ParsePoPList(data []byte) ([]Target, *Plan, error) {
	ts, err := ParseTargets(data)
	if err != nil {
		return nil, nil, err
	}
	var doc struct {
		Plan json.RawMessage `json:"plan"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, nil, fmt.Errorf("not a PoP list: %w", err)
	}
	if len(doc.Plan) == 0 || string(doc.Plan) == "null" {
		return ts, nil, nil
	}
	var pd planDoc
	if err := json.Unmarshal(doc.Plan, &pd); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			if te.Field == "" {
				return nil, nil, fmt.Errorf("plan: want a JSON object, got a JSON %s", te.Value)
			}
			return nil, nil, fmt.Errorf("plan.%s: wrong type: got a JSON %s", te.Field, te.Value)
		}
		return nil, nil, fmt.Errorf("plan: %w", err)
	}
	p := &Plan{Network: pd.Network}
	if len(p.Network) > 64 {
		return nil, nil, fmt.Errorf("plan.network: longer than 64 bytes")
	}
	if len(pd.PoPs) > rum.MaxSamples {
		return nil, nil, fmt.Errorf("plan.pops: %d PoPs, at most %d fit in one beacon", len(pd.PoPs), rum.MaxSamples)
	}
	for i, l := range pd.PoPs {
		if err := checkLabel(l); err != nil {
			return nil, nil, fmt.Errorf("plan.pops[%d]: %w", i, err)
		}
		for j := range i {
			if pd.PoPs[j] == l {
				return nil, nil, fmt.Errorf("plan.pops[%d]: %q already in plan.pops[%d]", i, l, j)
			}
		}
	}
	p.PoPs = pd.PoPs
	if pd.NextS != nil {
		s := *pd.NextS
		if !(s >= 0 && s <= MaxPlanNext.Seconds()) {
			return nil, nil, fmt.Errorf("plan.next_s: %v out of range [0, %v]", s, MaxPlanNext.Seconds())
		}
		p.Next = time.Duration(s * float64(time.Second))
	}
	return ts, p, nil
}

// FetchPoPList is FetchTargets that also returns the document's plan (nil
// when it has none): point it at the collector's /rum/plan.json.
func FetchPoPList(ctx context.Context, rawURL string, client *http.Client) ([]Target, *Plan, error) {
	body, err := fetchList(ctx, rawURL, client)
	if err != nil {
		return nil, nil, err
	}
	ts, p, err := ParsePoPList(body)
	if err != nil {
		return nil, nil, fmt.Errorf("PoP list %s: %w", rawURL, err)
	}
	return ts, p, nil
}

// FollowPlan returns the targets a round following p measures: the
// targets p names, in ts's order, and the anycast target. Without a plan,
// or when the plan names none of ts, it returns ts: a round always
// measures something.
func FollowPlan(ts []Target, p *Plan) []Target {
	if p == nil {
		return ts
	}
	out := make([]Target, 0, len(p.PoPs)+1)
	named := 0
	for _, t := range ts {
		if t.Label == rum.Anycast {
			out = append(out, t)
			continue
		}
		for _, l := range p.PoPs {
			if l == t.Label {
				out = append(out, t)
				named++
				break
			}
		}
	}
	if named == 0 {
		return ts
	}
	return out
}

// fetchList GETs a PoP list document.
func fetchList(ctx context.Context, rawURL string, client *http.Client) ([]byte, error) {
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("fetching PoP list: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching PoP list: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxTargetsSize+1))
	if err != nil {
		return nil, fmt.Errorf("fetching PoP list %s: reading body: %w", rawURL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching PoP list %s: %s%s", rawURL, resp.Status, bodySnippet(body))
	}
	if len(body) > MaxTargetsSize {
		return nil, fmt.Errorf("PoP list %s: larger than %d bytes", rawURL, MaxTargetsSize)
	}
	return body, nil
}
