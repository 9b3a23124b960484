package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	_ "embed" // rum.js
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"

	"github.com/steer-gslb/steer/internal/httpcond"
)

//go:embed rum.js
var rumSource []byte

// header is the only comment left in the served script: where it comes from.
const header = "// steer rum.js: github.com/steer-gslb/steer, web/rum.js\n"

// script is what Handler serves, built once at init: the stripped source,
// its gzip encoding and the ETag of each.
var script = newScript(strip(header, rumSource))

type encoded struct {
	plain, gzip         []byte
	plainETag, gzipETag string
}

func newScript(js []byte) encoded {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // a valid level: no error
	_, _ = zw.Write(js)                                      // a bytes.Buffer does not fail
	_ = zw.Close()
	sum := sha256.Sum256(js)
	tag := hex.EncodeToString(sum[:12])
	return encoded{
		plain:     js,
		gzip:      buf.Bytes(),
		plainETag: `"` + tag + `"`,
		gzipETag:  `"` + tag + `-gz"`,
	}
}

// strip removes what a browser does not need from rum.js (or debug.js),
// after a header comment line: comment lines,
// indentation and blank lines. It is not a minifier, and it is safe only
// because rum.js keeps to the rules its header states: comments on lines of
// their own, no block comments, no string spanning lines. Line breaks stay,
// so automatic semicolon insertion sees the same program.
func strip(header string, src []byte) []byte {
	out := []byte(header)
	for line := range strings.Lines(string(src)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "//") {
			continue
		}
		out = append(out, line...)
		out = append(out, '\n')
	}
	return out
}

// RUMJS returns the script that Handler serves at /rum.js: web/rum.js with
// comment lines and indentation removed. The caller may modify the slice.
func RUMJS() []byte {
	return bytes.Clone(script.plain)
}

// Handler serves rum.js at /rum.js (mount it at "/rum.js" or "GET
// /rum.js"; any other path is 404) for GET and HEAD: Content-Type
// text/javascript; charset=utf-8, a strong ETag per encoding (If-None-Match
// gives 304), Cache-Control: public, max-age=300 (a new version reaches
// every page within five minutes), gzip when the request accepts it (the
// encoding is made once, at init), and the headers that let any site embed
// it: Access-Control-Allow-Origin: * (for <script crossorigin> and
// Subresource Integrity) and Cross-Origin-Resource-Policy: cross-origin
// (for pages with Cross-Origin-Embedder-Policy).
func Handler() http.Handler {
	return http.HandlerFunc(serveRUMJS)
}

func serveRUMJS(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/rum.js" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	script.serve(w, r)
}

// serve answers a GET or HEAD for the script, as Handler describes.
func (e *encoded) serve(w http.ResponseWriter, r *http.Request) {
	body, etag := e.plain, e.plainETag
	gz := acceptsGzip(r.Header.Values("Accept-Encoding"))
	if gz {
		body, etag = e.gzip, e.gzipETag
	}
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("Vary", "Accept-Encoding")
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	if httpcond.NoneMatch(r.Header.Values("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	if gz {
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body) // a failed write is the client's to notice
	}
}

// acceptsGzip reports whether Accept-Encoding (RFC 9110 §12.5.3) allows
// gzip: "gzip" or "x-gzip" with a q-value above 0, or else "*" with one.
func acceptsGzip(values []string) bool {
	star := false
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			name, params, _ := strings.Cut(item, ";")
			name = strings.ToLower(strings.TrimSpace(name))
			if name != "gzip" && name != "x-gzip" && name != "*" {
				continue
			}
			ok := qAboveZero(params)
			if name != "*" {
				return ok
			}
			star = ok
		}
	}
	return star
}

// qAboveZero reports whether the parameters of one Accept-Encoding item
// leave it acceptable: no q, or a q that is not zero (q=0, 0.0, 0.000).
func qAboveZero(params string) bool {
	for p := range strings.SplitSeq(params, ";") {
		k, v, _ := strings.Cut(p, "=")
		if !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return err == nil && q > 0
	}
	return true
}
