package probe

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/rum"
)

var parseTargetsCases = []struct {
	name, doc string
	want      []Target
	err       string // substring; "" = valid
}{
	{"pops and anycast",
		`{"pops":[{"label":"fra","url":"https://fra.example.net/rum/probe"},{"label":"ams","url":"https://ams.example.net/rum/probe"}],"anycast":"https://www.example.net/rum/probe"}`,
		[]Target{{"fra", "https://fra.example.net/rum/probe"}, {"ams", "https://ams.example.net/rum/probe"}, {"anycast", "https://www.example.net/rum/probe"}}, ""},
	{"pops only", `{"pops":[{"label":"sin-2","url":"https://[2001:db8::1]:8443/rum/probe"}]}`,
		[]Target{{"sin-2", "https://[2001:db8::1]:8443/rum/probe"}}, ""},
	{"anycast only", `{"anycast":"http://127.0.0.1:8080/rum/probe"}`,
		[]Target{{"anycast", "http://127.0.0.1:8080/rum/probe"}}, ""},
	{"unknown keys ignored", `{"version":3,"pops":[{"label":"fra","url":"https://f/rum/probe","weight":2}],"extra":{"a":[1]}}`,
		[]Target{{"fra", "https://f/rum/probe"}}, ""},
	{"white space", " {\n \"pops\" : [ ] ,\"anycast\":\"https://a/\" }\n", []Target{{"anycast", "https://a/"}}, ""},

	{"empty", ``, nil, "not a PoP list"},
	{"array", `[]`, nil, "want a JSON object, got a JSON array"},
	{"null", `null`, nil, "no targets"},
	{"no targets", `{"pops":[]}`, nil, "no targets"},
	{"trailing data", `{"pops":[]} {}`, nil, "not a PoP list"},
	{"label number", `{"pops":[{"label":1,"url":"https://f/"}]}`, nil, "pops.label: wrong type: got a JSON number"},
	{"pops object", `{"pops":{}}`, nil, "pops: wrong type"},
	{"upper-case label", `{"pops":[{"label":"FRA","url":"https://f/"}]}`, nil, `pops[0].label: "FRA" is not a PoP label`},
	{"empty label", `{"pops":[{"url":"https://f/"}]}`, nil, "pops[0].label: empty PoP label"},
	{"long label", `{"pops":[{"label":"` + strings.Repeat("a", 33) + `","url":"https://f/"}]}`, nil, "longer than 32"},
	{"anycast as pop", `{"pops":[{"label":"anycast","url":"https://f/"}]}`, nil, `pops[0].label: "anycast" is reserved`},
	{"duplicate", `{"pops":[{"label":"fra","url":"https://f/"},{"label":"fra","url":"https://g/"}]}`, nil, `pops[1].label: "fra" already names targets[0]`},
	{"no url", `{"pops":[{"label":"fra"}]}`, nil, "pops[0].url: required"},
	{"relative url", `{"pops":[{"label":"fra","url":"/rum/probe"}]}`, nil, "pops[0].url: \"/rum/probe\": want an http or https URL"},
	{"ftp url", `{"pops":[{"label":"fra","url":"ftp://f/"}]}`, nil, "want an http or https URL"},
	{"no host", `{"pops":[{"label":"fra","url":"https:///rum/probe"}]}`, nil, "no host"},
	{"user info", `{"pops":[{"label":"fra","url":"https://u:p@f/"}]}`, nil, "user info"},
	{"fragment", `{"pops":[{"label":"fra","url":"https://f/#x"}]}`, nil, "fragment"},
	{"bad anycast", `{"pops":[{"label":"fra","url":"https://f/"}],"anycast":"www.example.net"}`, nil, "anycast: \"www.example.net\": want an http or https URL"},
	{"bad escape", `{"pops":[{"label":"fr\a","url":"https://f/"}]}`, nil, "not a PoP list"},
}

func TestParseTargets(t *testing.T) {
	for _, tc := range parseTargetsCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTargets([]byte(tc.doc))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseTargets(%s) = %v, %v; want error containing %q", tc.doc, got, err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParseTargets(%s) = %v, %v; want %v", tc.doc, got, err, tc.want)
			}
		})
	}
	t.Run("too many", func(t *testing.T) {
		var b strings.Builder
		b.WriteString(`{"pops":[`)
		for i := range rum.MaxSamples + 1 {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"label":"p%d","url":"https://p%d.example.net/rum/probe"}`, i, i)
		}
		b.WriteString(`]}`)
		if _, err := ParseTargets([]byte(b.String())); err == nil || !strings.Contains(err.Error(), "at most 256 fit in one beacon") {
			t.Errorf("257 targets: %v", err)
		}
	})
	t.Run("too large", func(t *testing.T) {
		if _, err := ParseTargets(make([]byte, MaxTargetsSize+1)); err == nil || !strings.Contains(err.Error(), "larger than") {
			t.Errorf("oversized document: %v", err)
		}
	})
}

func TestMarshalTargets(t *testing.T) {
	ts := []Target{{"fra", "https://fra.example.net/rum/probe?a=1&b=<2>"}, {"anycast", "https://www.example.net/rum/probe"}, {"ams", "https://ams.example.net/rum/probe"}}
	b, err := MarshalTargets(ts)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"pops":[{"label":"fra","url":"https://fra.example.net/rum/probe?a=1&b=<2>"},{"label":"ams","url":"https://ams.example.net/rum/probe"}],"anycast":"https://www.example.net/rum/probe"}` + "\n"
	if string(b) != want {
		t.Errorf("MarshalTargets = %s, want %s", b, want)
	}
	got, err := ParseTargets(b)
	if err != nil {
		t.Fatal(err)
	}
	wantTS := []Target{ts[0], ts[2], ts[1]} // anycast last
	if !reflect.DeepEqual(got, wantTS) {
		t.Errorf("round trip: %v, want %v", got, wantTS)
	}
	if _, err := MarshalTargets([]Target{{"Bad", "https://x/"}}); err == nil || !strings.Contains(err.Error(), `targets[0].label: "Bad" is not a PoP label`) {
		t.Errorf("MarshalTargets(bad label) = %v", err)
	}
}

func TestFetchTargets(t *testing.T) {
	doc := `{"pops":[{"label":"fra","url":"https://fra.example.net/rum/probe"}],"anycast":"https://www.example.net/rum/probe"}`
	mux := http.NewServeMux()
	mux.HandleFunc("/rum/pops.json", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept") != "application/json" {
			http.Error(w, "want Accept: application/json", http.StatusNotAcceptable)
			return
		}
		_, _ = w.Write([]byte(doc))
	})
	mux.HandleFunc("/bad.json", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"pops":[{"label":"FRA","url":"https://f/"}]}`))
	})
	mux.HandleFunc("/huge.json", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"pops":[],"x":"`))
		_, _ = w.Write(make([]byte, MaxTargetsSize))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	got, err := FetchTargets(ctx, srv.URL+"/rum/pops.json", nil)
	want := []Target{{"fra", "https://fra.example.net/rum/probe"}, {"anycast", "https://www.example.net/rum/probe"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("FetchTargets = %v, %v; want %v", got, err, want)
	}
	for _, tc := range []struct{ path, err string }{
		{"/missing.json", "404 Not Found: \"404 page not found\""},
		{"/bad.json", `pops[0].label: "FRA" is not a PoP label`},
		{"/huge.json", "larger than 1048576 bytes"},
	} {
		if _, err := FetchTargets(ctx, srv.URL+tc.path, srv.Client()); err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), srv.URL) {
			t.Errorf("FetchTargets(%s) = %v, want an error naming the URL and containing %q", tc.path, err, tc.err)
		}
	}
	if _, err := FetchTargets(ctx, "http://127.0.0.1:1/x", nil); err == nil || !strings.Contains(err.Error(), "fetching PoP list") {
		t.Errorf("FetchTargets(closed port) = %v", err)
	}
}

// FuzzParseTargets: no input makes ParseTargets panic; whatever it accepts
// passes CheckTargets, and writes back (MarshalTargets) to a document that
// parses to the same targets.
func FuzzParseTargets(f *testing.F) {
	for _, tc := range parseTargetsCases {
		f.Add([]byte(tc.doc))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, err := ParseTargets(data)
		if err != nil {
			if ts != nil {
				t.Fatalf("error %v with targets %v", err, ts)
			}
			return
		}
		if err := CheckTargets(ts); err != nil {
			t.Fatalf("accepted %q, but CheckTargets: %v", data, err)
		}
		for i, tg := range ts {
			if tg.Label == rum.Anycast && i != len(ts)-1 {
				t.Fatalf("anycast target not last: %v", ts)
			}
		}
		b, err := MarshalTargets(ts)
		if err != nil {
			t.Fatalf("MarshalTargets(%v): %v", ts, err)
		}
		back, err := ParseTargets(b)
		if err != nil || !reflect.DeepEqual(back, ts) {
			t.Fatalf("round trip of %q: %v, %v; want %v", b, back, err, ts)
		}
	})
}

// TestLabelRuleMatchesConfig: the package's copy of the PoP label rule
// agrees with config.CheckLabel on hand-picked and random strings.
func TestLabelRuleMatchesConfig(t *testing.T) {
	cases := []string{"", "a", "fra", "fra-1", "-", "0", "FRA", "Fra", "anycast", "anycast2", "a_b", "a.b", "a b", "é",
		strings.Repeat("a", 32), strings.Repeat("a", 33)}
	r := rand.New(rand.NewPCG(1, 2))
	const alphabet = "abcz09-_A.é "
	for range 2000 {
		b := make([]byte, r.IntN(36))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		cases = append(cases, string(b))
	}
	for _, l := range cases {
		ours, theirs := checkLabel(l), config.CheckLabel(popmap.Label(l))
		if (ours == nil) != (theirs == nil) {
			t.Errorf("label %q: probe says %v, config says %v", l, ours, theirs)
		}
	}
}
