package explain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// DecodeJSON reads a report in its JSON form (Report's field names in
// lowerCamelCase, as `steer explain --json` prints it and the steering
// API's Explain answers). It also takes what protobuf's JSON mapping
// writes for the same fields: 64-bit integers as strings, enum names such
// as "SOURCE_ECS", empty fields left out.
func DecodeJSON(data []byte) (*Report, error) {
	var w struct {
		Report
		Scope      flexInt    `json:"scope"`
		MapVersion flexInt    `json:"mapVersion"`
		Source     string     `json:"source"`
		Estimates  []estimate `json:"estimates"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("explain: decoding a report: %w", err)
	}
	r := w.Report
	r.Scope, r.MapVersion = int(w.Scope), int(w.MapVersion)
	r.Source = strings.ToLower(strings.TrimPrefix(w.Source, "SOURCE_"))
	r.Estimates = make([]Estimate, len(w.Estimates))
	for i, e := range w.Estimates {
		r.Estimates[i] = Estimate{PoP: e.PoP, Samples: int(e.Samples), P75Ms: e.P75Ms}
	}
	for _, p := range []*[]string{&r.PoPs, &r.Answer} {
		if *p == nil {
			*p = []string{}
		}
	}
	if r.Skipped == nil {
		r.Skipped = []Skip{}
	}
	if !r.Addr.IsValid() {
		return nil, fmt.Errorf("explain: decoding a report: no addr")
	}
	return &r, nil
}

type estimate struct {
	PoP     string  `json:"pop"`
	Samples flexInt `json:"samples"`
	P75Ms   float64 `json:"p75Ms"`
}

// flexInt is an integer written as a JSON number or string.
type flexInt int64

func (n *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "null" || s == "" {
		*n = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("want an integer, got %.20s", b)
	}
	*n = flexInt(v)
	return nil
}
