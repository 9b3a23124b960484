package probe

import (
	"fmt"
	"net/http"
)

// Path is where every PoP serves [Handler].
const Path = "/rum/probe"

// HeaderEdgePoP names the PoP that answered a request. Agents read it from
// the anycast target's response into the sample's served_by.
const HeaderEdgePoP = "X-Edge-PoP"

// HeaderRequestID is the request ID an edge sets on every response; the
// probe exposes it to pages (the debug page shows it) but does not set it.
const HeaderRequestID = "X-Request-ID"

// Header values, shared by every response. Each slice has capacity 1, so a
// later Header().Add by a wrapping handler reallocates instead of writing
// into the shared array.
var (
	hdrNoStore  = []string{"no-store"}
	hdrStar     = []string{"*"}
	hdrExpose   = []string{HeaderEdgePoP + ", " + HeaderRequestID}
	hdrMethods  = []string{"GET, HEAD, OPTIONS"}
	hdrMaxAge   = []string{"86400"}
	hdrNoSniff  = []string{"nosniff"}
	hdrTextType = []string{"text/plain; charset=utf-8"}
)

// Canonical header keys, so that the handler can assign to the header map
// directly (Header.Set canonicalises on every call).
const (
	keyCacheControl  = "Cache-Control"
	keyTAO           = "Timing-Allow-Origin"
	keyACAO          = "Access-Control-Allow-Origin"
	keyACEH          = "Access-Control-Expose-Headers"
	keyACAM          = "Access-Control-Allow-Methods"
	keyACMA          = "Access-Control-Max-Age"
	keyAllow         = "Allow"
	keyContentType   = "Content-Type"
	keyNoSniff       = "X-Content-Type-Options"
	keyEdgePoP       = "X-Edge-Pop" // http.CanonicalHeaderKey(HeaderEdgePoP)
	methodNotAllowed = "method not allowed\n"
)

type handler struct {
	pop []string // {label}
}

// Handler returns the probe endpoint of the PoP labelled pop, to be served
// at [Path]. It answers GET and HEAD with 204 No Content, Cache-Control:
// no-store, Timing-Allow-Origin: *, Access-Control-Allow-Origin: *,
// Access-Control-Expose-Headers: X-Edge-PoP, X-Request-ID and X-Edge-PoP: pop; OPTIONS (a
// CORS preflight) with 204 and the allowed methods; anything else with 405.
// The path is not checked: the caller mounts it. It writes no log.
//
// Handler panics if pop is not a PoP label (1..32 of [a-z0-9-], not
// "anycast"): the label is fixed at startup, and a bad one is a
// configuration error the caller should have reported.
func Handler(pop string) http.Handler {
	if err := checkLabel(pop); err != nil {
		panic(fmt.Sprintf("probe.Handler: %v", err))
	}
	return handler{pop: []string{pop}}
}

func (h handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		hdr[keyCacheControl] = hdrNoStore
		hdr[keyTAO] = hdrStar
		hdr[keyACAO] = hdrStar
		hdr[keyACEH] = hdrExpose
		hdr[keyEdgePoP] = h.pop
		w.WriteHeader(http.StatusNoContent)
	case http.MethodOptions:
		// A probe needs no preflight (a plain GET without custom headers
		// is a CORS "simple request"), but a page that adds a header
		// triggers one; answer it so that its probe still works, and let
		// the browser cache the answer for a day.
		hdr[keyCacheControl] = hdrNoStore
		hdr[keyACAO] = hdrStar
		hdr[keyACAM] = hdrMethods
		hdr[keyACMA] = hdrMaxAge
		hdr[keyEdgePoP] = h.pop
		w.WriteHeader(http.StatusNoContent)
	default:
		hdr[keyAllow] = hdrMethods
		hdr[keyCacheControl] = hdrNoStore
		hdr[keyContentType] = hdrTextType
		hdr[keyNoSniff] = hdrNoSniff
		w.WriteHeader(http.StatusMethodNotAllowed)
		_, _ = w.Write([]byte(methodNotAllowed))
	}
}
