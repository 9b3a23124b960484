package web

import (
	"bytes"
	_ "embed" // debug.html, debug.js
	"html/template"
	"net/http"
	"strings"
)

//go:embed debug.html
var debugHTML string

//go:embed debug.js
var debugSource []byte

// Paths the debug page is served at (DebugHandler).
const (
	DebugPath       = "/debug"
	DebugScriptPath = "/debug/page.js"
	// DebugReportURLPath is where the collector takes reports (POST) and
	// serves them (GET DebugReportPath + "/" + ID).
	DebugReportURLPath = "/debug/report"
)

// Shared-code markers in rum.js: the lines between them are the debug
// page's measurement code too.
const (
	sharedBegin = "// debug page shared: begin\n"
	sharedEnd   = "// debug page shared: end\n"
)

var (
	debugTmpl   = template.Must(template.New("debug").Parse(debugHTML))
	debugScript = newScript(debugJS())
)

// debugJS is the debug page's script: rum.js's shared measurement code
// (its variables, fetch timing, time limits, cache busting) and debug.js,
// in one function, stripped as rum.js is.
func debugJS() []byte {
	src := string(rumSource)
	i, j := strings.Index(src, sharedBegin), strings.Index(src, sharedEnd)
	if i < 0 || j < i {
		panic("web: rum.js lost its debug page markers")
	}
	var b bytes.Buffer
	b.WriteString("(function () {\n\"use strict\";\n")
	b.WriteString(src[i+len(sharedBegin) : j])
	b.Write(debugSource)
	b.WriteString("})();\n")
	return strip("// steer debug page: github.com/steer-gslb/steer, web/rum.js and web/debug.js\n", b.Bytes())
}

// DebugJS returns the script DebugHandler serves at /debug/page.js.
func DebugJS() []byte { return bytes.Clone(debugScript.plain) }

// DebugHandler serves the debug page: the HTML at /debug and its script at
// /debug/page.js (mount both; any other path is 404), GET and HEAD only.
// The page measures every PoP in collector's /rum/pops.json and posts its
// report to collector's /debug/report; collector is an origin
// ("https://c.example.net"), or "" for the page's own origin (the
// collector serving its own page). pop is the X-Edge-PoP of the server
// serving the page ("" for none), shown on the page and stored in the
// report.
func DebugHandler(collector, pop string) http.Handler {
	var page bytes.Buffer
	err := debugTmpl.Execute(&page, struct{ Collector, PoP, Script string }{
		strings.TrimRight(collector, "/"), pop, DebugScriptPath,
	})
	if err != nil {
		panic("web: debug page template: " + err.Error()) // static template, static data
	}
	html := page.Bytes()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != DebugPath && r.URL.Path != DebugScriptPath {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if r.URL.Path == DebugScriptPath {
			debugScript.serve(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		// The page fetches probes and the collector anywhere, and nothing
		// else: its own script and inline styles.
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src *; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write(html)
		}
	})
}
