package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

var debugParseCases = []struct {
	name, body string
	err        string // "" = valid
}{
	{"full", `{"v":1,"page_pop":"fra","user_agent":"Mozilla/5.0","dns_test":"abcdefghij12.rum.example.net",
	  "pops":[{"label":"fra","rtt_ms":[10.5,12,11],"edge_pop":"fra","request_id":"fra-m1x2k3l4-9f3e2a1b"},
	          {"label":"ams","rtt_ms":[30,31]},{"label":"sin","error":"timeout"}],
	  "anycast":{"label":"anycast","rtt_ms":[15],"edge_pop":"ams"}}`, ""},
	{"minimal", `{"v":1,"pops":[{"label":"fra","error":"failed"}]}`, ""},
	{"trailing space", `{"v":1,"pops":[{"label":"fra","rtt_ms":[0]}]}` + "\n ", ""},
	{"no v", `{"pops":[{"label":"fra","rtt_ms":[1]}]}`, "v: missing"},
	{"v 2", `{"v":2,"pops":[{"label":"fra","rtt_ms":[1]}]}`, "v: 2, want 1"},
	{"unknown field", `{"v":1,"pops":[{"label":"fra","rtt_ms":[1]}],"id":"X"}`, `unknown field "id"`},
	{"unknown target field", `{"v":1,"pops":[{"label":"fra","rtt_ms":[1],"median_ms":1}]}`, `unknown field "median_ms"`},
	{"two objects", `{"v":1,"pops":[{"label":"fra","rtt_ms":[1]}]}{}`, "data after the JSON object"},
	{"not an object", `[1]`, "debug report:"},
	{"empty", ``, "debug report:"},
	{"no pops", `{"v":1,"pops":[]}`, "pops: empty"},
	{"bad label", `{"v":1,"pops":[{"label":"FRA","rtt_ms":[1]}]}`, `pops[0].label: "FRA" is not a PoP label`},
	{"anycast as PoP", `{"v":1,"pops":[{"label":"anycast","rtt_ms":[1]}]}`, "anycast is the anycast field's"},
	{"duplicate", `{"v":1,"pops":[{"label":"fra","rtt_ms":[1]},{"label":"fra","rtt_ms":[2]}]}`, `pops[1].label: "fra" twice`},
	{"negative rtt", `{"v":1,"pops":[{"label":"fra","rtt_ms":[-0.5]}]}`, "pops[0].rtt_ms[0]: -0.5 out of range [0, 60000]"},
	{"huge rtt", `{"v":1,"pops":[{"label":"fra","rtt_ms":[1e9]}]}`, "out of range"},
	{"too many runs", `{"v":1,"pops":[{"label":"fra","rtt_ms":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}]}`, "17 round trips, at most 16"},
	{"nothing measured", `{"v":1,"pops":[{"label":"fra"}]}`, "neither round trips nor an error"},
	{"error and rtt", `{"v":1,"pops":[{"label":"fra","rtt_ms":[1],"error":"failed"}]}`, "both an error and round trips"},
	{"free-text error", `{"v":1,"pops":[{"label":"fra","error":"connect to 203.0.113.9 failed"}]}`, "want failed or timeout"},
	{"bad edge_pop", `{"v":1,"pops":[{"label":"fra","rtt_ms":[1],"edge_pop":"x y"}]}`, "edge_pop"},
	{"bad request_id", `{"v":1,"pops":[{"label":"fra","rtt_ms":[1],"request_id":"<script>"}]}`, "request_id"},
	{"bad dns_test", `{"v":1,"dns_test":"a b","pops":[{"label":"fra","rtt_ms":[1]}]}`, "dns_test"},
	{"bad page_pop", `{"v":1,"page_pop":"Fra","pops":[{"label":"fra","rtt_ms":[1]}]}`, "page_pop"},
	{"control in user_agent", `{"v":1,"user_agent":"a\nb","pops":[{"label":"fra","rtt_ms":[1]}]}`, "user_agent"},
	{"anycast label", `{"v":1,"pops":[{"label":"fra","rtt_ms":[1]}],"anycast":{"label":"ams","rtt_ms":[1]}}`, "anycast.label"},
	{"string rtt", `{"v":1,"pops":[{"label":"fra","rtt_ms":["1"]}]}`, "debug report:"},
}

func TestParseDebugReport(t *testing.T) {
	for _, tc := range debugParseCases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseDebugReport([]byte(tc.body))
			if tc.err == "" {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want one with %q (report %+v)", err, tc.err, r)
			}
		})
	}
	r, err := ParseDebugReport([]byte(debugParseCases[0].body))
	if err != nil {
		t.Fatal(err)
	}
	if r.Fastest != "fra" || r.PoPs[0].MedianMs != 11 || r.PoPs[1].MedianMs != 30.5 || r.Anycast.MedianMs != 15 || r.PoPs[2].Error != "timeout" {
		t.Errorf("parsed %+v", r)
	}
	if _, err := ParseDebugReport(make([]byte, MaxDebugReportSize+1)); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("oversized: %v", err)
	}
}

func FuzzParseDebugReport(f *testing.F) {
	for _, tc := range debugParseCases {
		f.Add([]byte(tc.body))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseDebugReport(data)
		if err != nil {
			return
		}
		if len(r.PoPs) == 0 || len(r.PoPs) > MaxDebugPoPs {
			t.Fatalf("accepted %d PoPs", len(r.PoPs))
		}
		for _, p := range r.PoPs {
			if (len(p.RTTms) == 0) == (p.Error == "") || p.MedianMs < 0 || p.MedianMs > MaxDebugRTTms {
				t.Fatalf("accepted target %+v", p)
			}
		}
		_ = r.Text()
	})
}

func TestDebugReportIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewDebugReportID()
		n, err := NormalizeDebugReportID(id)
		if err != nil || n != id || len(id) != 8 {
			t.Fatalf("NewDebugReportID %q: normalized %q, %v", id, n, err)
		}
		seen[id] = true
	}
	if len(seen) < 999 {
		t.Errorf("%d distinct IDs of 1000", len(seen))
	}
	for in, want := range map[string]string{"7kq2-m9xd": "7KQ2M9XD", "oIlL 0000": "0111" + "0000", "ABCDEFGH": "ABCDEFGH"} {
		if got, err := NormalizeDebugReportID(in); err != nil || got != want {
			t.Errorf("NormalizeDebugReportID(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "ABC", "ABCDEFGHJ", "ABCDEFGU", "../../etc", "ABCD/EFG"} {
		if _, err := NormalizeDebugReportID(bad); err == nil {
			t.Errorf("NormalizeDebugReportID(%q) accepted", bad)
		}
	}
	if _, err := ReadDebugReport(t.TempDir(), "ABCDEFGH"); err == nil || !strings.Contains(err.Error(), ErrNoDebugReport.Error()) {
		t.Errorf("ReadDebugReport of a missing report: %v", err)
	}
}

func TestDebugHandler(t *testing.T) {
	h := DebugHandler("https://c.example.net/", "fra")
	for _, tc := range []struct {
		method, path string
		code         int
		want         string
	}{
		{"GET", "/debug", 200, `<script src="/debug/page.js" data-collector="https://c.example.net" data-pop="fra">`},
		{"GET", "/debug/page.js", 200, `/debug/report`},
		{"HEAD", "/debug", 200, ""},
		{"POST", "/debug", 405, "method not allowed"},
		{"GET", "/debug/x", 404, ""},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, nil))
		body, _ := io.ReadAll(w.Result().Body)
		if w.Code != tc.code || !strings.Contains(string(body), tc.want) {
			t.Errorf("%s %s: %d, want %d with %q:\n%.300s", tc.method, tc.path, w.Code, tc.code, tc.want, body)
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/debug", nil))
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	// the page's script is rum.js's measurement code and debug.js, in one
	// function, without comments
	js := string(DebugJS())
	for _, want := range []string{"function get(u, ms, cors)", "function measureOne(label, url)", `r.headers.get("X-Request-ID")`} {
		if !strings.Contains(js, want) {
			t.Errorf("debug page script has no %q", want)
		}
	}
	if strings.Contains(js, "\n//") || strings.Contains(js, "function run(c)") {
		t.Errorf("debug page script has comments or rum.js's beacon code")
	}
	if code := getStatus(h, "GET", DebugScriptPath, "Accept-Encoding", "gzip"); code != http.StatusOK {
		t.Errorf("gzip page.js: %d", code)
	}
}

func getStatus(h http.Handler, method, path string, hdr ...string) int {
	r := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code
}
