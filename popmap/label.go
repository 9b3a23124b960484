// Package popmap is steer's map model: a route map from client networks to
// ranked PoP labels, in NS1's JSON form (Parse, Encode), compiled into an
// immutable Table whose Lookup gives the ranked labels of the longest entry
// and the ECS scope over which that answer is uniform. LoadTable goes from
// the JSON straight to a Table, without a Map: what the DNS server does on
// start and on every reload.
//
// A map knows PoP labels only, never addresses: the DNS server resolves
// labels to addresses from its config (gdnsd's map/resource split). The
// package exports no metrics; the server reports map versions and sizes.
package popmap

import "strings"

// Label names a PoP ("fra", "ams"). A map ranks labels per network; it never
// knows the PoP's addresses (gdnsd's split between a map and a resource).
type Label string

// FormatLabels joins ranked labels with commas ("fra,ams"), or "(none)".
func FormatLabels(ls []Label) string {
	if len(ls) == 0 {
		return "(none)"
	}
	var b strings.Builder
	for i, l := range ls {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(string(l))
	}
	return b.String()
}
