package explain

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestRemote: Remote against a real HTTP server on loopback that serves
// Explain's JSON as the steering API does (Connect's JSON; the map version
// as protobuf writes an int64, a string), and a Connect error naming the
// field.
func TestRemote(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != ExplainPath || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad request", http.StatusNotFound)
			return
		}
		var req Request
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		addr, err := netip.ParseAddr(req.IP)
		if err != nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"code":"invalid_argument","message":"ip: bad address"}`))
			return
		}
		var ecs netip.Prefix
		if req.ECS != "" {
			ecs = netip.MustParsePrefix(req.ECS)
		}
		in := f.inputs()
		in.Record, in.Family = req.Record, req.Family
		rep, err := Explain(in, addr, ecs)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		b, _ := json.Marshal(rep)
		b = []byte(strings.Replace(string(b), `"mapVersion":7`, `"mapVersion":"7"`, 1))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := Remote(ctx, srv.Client(), srv.URL, netip.MustParseAddr("198.51.100.53"), netip.MustParsePrefix("0.0.0.0/0"), "www", "")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Explain(f.inputs(), netip.MustParseAddr("198.51.100.53"), netip.MustParsePrefix("0.0.0.0/0"))
	if r.String() != want.String() || r.MapVersion != 7 || r.Source != "resolver" {
		t.Errorf("remote report:\n%s\nwant:\n%s", r, want)
	}
	_, err = Remote(ctx, srv.Client(), srv.URL, netip.IPv6Unspecified(), netip.Prefix{}, "", "")
	if err != nil {
		t.Fatalf("a valid address: %v", err)
	}
	// a server answering with a Connect error
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"code":"invalid_argument","message":"ip: bad address"}`))
	}))
	defer bad.Close()
	if _, err := Remote(ctx, bad.Client(), bad.URL, netip.MustParseAddr("192.0.2.1"), netip.Prefix{}, "", ""); err == nil || !strings.Contains(err.Error(), "invalid_argument: ip: bad address") {
		t.Errorf("err %v, want the Connect error", err)
	}
}
