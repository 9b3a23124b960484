package test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steer-gslb/steer/collector"
	"github.com/steer-gslb/steer/probe"
	"github.com/steer-gslb/steer/rum"
	"github.com/steer-gslb/steer/store"
	"github.com/steer-gslb/steer/store/duckstore"
)

// TestProbeThroughCollector is the desktop agent end to end with real
// parts: the probe library measures HTTPS probe endpoints (probe.Handler)
// found through the real collector's /rum/pops.json, resolves its random
// name through the real steer DNS server, and posts its beacon with a token
// to the collector, which stores it in DuckDB.
func TestProbeThroughCollector(t *testing.T) {
	dns := startSteer(t, nil)

	roots := x509.NewCertPool()
	urls := map[string]string{}
	for _, l := range []string{"fra", "ams", rum.Anycast} {
		pop := l
		if l == rum.Anycast {
			pop = "lhr"
		}
		srv := httptest.NewTLSServer(probe.Handler(pop))
		t.Cleanup(srv.Close)
		roots.AddCert(srv.Certificate())
		urls[l] = srv.URL + probe.Path
	}

	dir := t.TempDir()
	st, err := duckstore.Open(dir, duckstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := collector.Defaults()
	cfg.Tokens = []string{collectorToken}
	cfg.PoPs = []collector.PoPURL{{Label: "fra", URL: urls["fra"]}, {Label: "ams", URL: urls["ams"]}}
	cfg.Anycast = urls[rum.Anycast]
	coll, err := collector.New(cfg, st, collector.Options{SpoolDir: filepath.Join(dir, "spool")})
	if err != nil {
		t.Fatal(err)
	}
	collSrv := httptest.NewServer(coll)
	t.Cleanup(collSrv.Close)

	pc := probe.Config{
		TargetsURL: collSrv.URL + "/rum/pops.json",
		Collector:  collSrv.URL + "/beacon",
		Token:      collectorToken,
		RUMZone:    "rum.example.net",
		Resolver:   dns.addr.String(),
		Timeout:    5 * time.Second,
		HTTPClient: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := probe.Measure(ctx, pc)
	if err != nil {
		t.Fatal(err)
	}
	if err := probe.Post(ctx, pc, b); err != nil {
		t.Fatal(err)
	}
	if err := coll.Close(); err != nil {
		t.Fatal(err)
	}
	got := map[string]store.SampleRow{}
	if err := st.ScanSamples(ctx, func(r *store.SampleRow) error {
		got[r.Target] = *r
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("stored samples for %v; want fra, ams and anycast", got)
	}
	for target, s := range got {
		if s.Probe != rum.ProbeHTTPS || s.Network != netip.MustParsePrefix("127.0.0.0/24") || s.Agent.Kind != rum.KindDesktop || s.DNSTest != b.DNSTest || s.RTTms <= 0 {
			t.Errorf("%s: %+v", target, s)
		}
	}
	if got[rum.Anycast].ServedBy != "lhr" {
		t.Errorf("anycast served_by %q, want lhr", got[rum.Anycast].ServedBy)
	}
	// the random name reached the DNS server's RUM query log
	eventually(t, 5*time.Second, "the DNS test in the query log", func() bool {
		log, err := os.ReadFile(dns.cfg.QueryLog)
		return err == nil && strings.Contains(string(log), `"qname":"`+b.DNSTest+`."`)
	})
}
