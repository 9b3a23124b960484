package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/steer-gslb/steer/probe"
	"github.com/steer-gslb/steer/rum"
)

// probeTestTargets starts self-signed probe targets for fra and ams and an
// "anycast" endpoint answered by ams, and returns their URLs.
func probeTestTargets(t *testing.T) (fra, ams, anycast string) {
	t.Helper()
	fra = startProbeTarget(t, probeTargetOptions{pop: "fra", selfSigned: true})
	ams = startProbeTarget(t, probeTargetOptions{pop: "ams", selfSigned: true})
	anycast = startProbeTarget(t, probeTargetOptions{pop: "ams", selfSigned: true})
	return fra, ams, anycast
}

// parseBeaconLines parses every stdout line as a beacon in Strict mode,
// as the collector does.
func parseBeaconLines(t *testing.T, out string) []rum.Beacon {
	t.Helper()
	var bs []rum.Beacon
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var b rum.Beacon
		if _, err := rum.ParseBeacon(sc.Bytes(), rum.Strict, &b); err != nil {
			t.Fatalf("stdout line does not parse as a beacon (Strict): %v\n%s", err, sc.Text())
		}
		bs = append(bs, b)
	}
	return bs
}

// checkProbeBeacon checks a beacon from the command: one sample per
// target, in order, the anycast one served by ams.
func checkProbeBeacon(t *testing.T, b rum.Beacon) {
	t.Helper()
	var got []string
	for _, s := range b.Samples {
		got = append(got, s.Target+"/"+s.ServedBy)
		if s.Probe != rum.ProbeHTTPS || !(s.RTTms > 0) {
			t.Errorf("sample %+v", s)
		}
	}
	if strings.Join(got, " ") != "fra/ ams/ anycast/ams" {
		t.Errorf("samples %v, want fra, ams and anycast served by ams", got)
	}
	if b.Agent.Kind != rum.KindCLI || b.Agent.Timer != "monotonic" || b.ClientSubnet.IsValid() {
		t.Errorf("agent %+v, client_subnet %v", b.Agent, b.ClientSubnet)
	}
}

func TestProbeCommandPrint(t *testing.T) {
	fra, ams, anycast := probeTestTargets(t)
	var out, errb bytes.Buffer
	args := []string{"--target", "fra=" + fra, "--target", "ams=" + ams, "--anycast", anycast, "--print", "--insecure-tls", "--verbose"}
	if code := runProbe(args, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	bs := parseBeaconLines(t, out.String())
	if len(bs) != 1 {
		t.Fatalf("%d beacons printed, want 1:\n%s", len(bs), out.String())
	}
	checkProbeBeacon(t, bs[0])
	for _, want := range []string{"3 samples, 0 targets failed", "insecure-tls", "anycast", "served by ams", "connect "} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}
}

// TestProbeCommandPoPsAndCollector: the PoP list comes from --pops, the
// token from $STEER_PROBE_TOKEN, and three rounds (--interval, --count)
// reach the collector, which validates each beacon in Strict mode.
func TestProbeCommandPoPsAndCollector(t *testing.T) {
	fra, ams, anycast := probeTestTargets(t)
	doc, err := probe.MarshalTargets([]probe.Target{{Label: "fra", URL: fra}, {Label: "ams", URL: ams}, {Label: "anycast", URL: anycast}})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []rum.Beacon
	mux := http.NewServeMux()
	mux.HandleFunc("GET /rum/pops.json", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(doc) })
	mux.HandleFunc("POST /rum/beacon", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer from-env" {
			http.Error(w, "bad token", http.StatusUnauthorized)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var b rum.Beacon
		if _, err := rum.ParseBeacon(body, rum.Strict, &b); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, b)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Setenv("STEER_PROBE_TOKEN", "from-env")

	var out, errb bytes.Buffer
	args := []string{"--pops", srv.URL + "/rum/pops.json", "--collector", srv.URL + "/rum/beacon", "--insecure-tls", "--interval", "20ms", "--count", "3"}
	if code := probeMain(context.Background(), args, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if out.Len() != 0 {
		t.Errorf("stdout without --print: %q", out.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 {
		t.Fatalf("collector got %d beacons, want 3; stderr:\n%s", len(got), errb.String())
	}
	for _, b := range got {
		checkProbeBeacon(t, b)
	}

	// A wrong token: the collector's answer is reported, exit 1.
	errb.Reset()
	args = []string{"--target", "fra=" + fra, "--collector", srv.URL + "/rum/beacon", "--token", "wrong", "--insecure-tls"}
	if code := probeMain(context.Background(), args, &out, &errb); code != 1 || !strings.Contains(errb.String(), `401 Unauthorized: "bad token"`) {
		t.Errorf("wrong token: exit %d, stderr %q", code, errb.String())
	}
}

// TestProbeCommandDNSTest: --rum-zone and --resolver put a random name in
// the beacon; a resolver that does not answer is reported, not fatal.
func TestProbeCommandDNSTest(t *testing.T) {
	fra, _, _ := probeTestTargets(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := pc.LocalAddr().String()
	_ = pc.Close()
	var out, errb bytes.Buffer
	args := []string{"--target", "fra=" + fra, "--print", "--insecure-tls", "--rum-zone", "rum.example.net", "--resolver", dead, "--timeout", "2s"}
	if code := runProbe(args, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	bs := parseBeaconLines(t, out.String())
	if len(bs) != 1 || !strings.HasSuffix(bs[0].DNSTest, ".rum.example.net") || len(bs[0].DNSTest) != len("123456789012.rum.example.net") {
		t.Fatalf("beacons %+v", bs)
	}
	if !strings.Contains(errb.String(), "dns test "+bs[0].DNSTest+" (resolving") {
		t.Errorf("stderr does not report the DNS failure:\n%s", errb.String())
	}
}

func TestProbeCommandErrors(t *testing.T) {
	down := "https://" + probeClosedAddr(t) + "/rum/probe"
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--print"}, 2, "no targets"},
		{[]string{"--target", "fra=https://x/"}, 2, "give --collector URL or --print"},
		{[]string{"--target", "fra", "--print"}, 2, `"fra" is not LABEL=URL`},
		{[]string{"--target", "fra=https://x/", "--print", "--count", "3"}, 2, "--count 3 needs --interval"},
		{[]string{"--target", "fra=https://x/", "--print", "--interval", "-1s"}, 2, "--interval -1s"},
		{[]string{"--target", "fra=https://x/", "--print", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"--target", "FRA=https://x/", "--print"}, 1, `targets[0].label: "FRA" is not a PoP label`},
		{[]string{"--target", "fra=https://x/", "--print", "--kind", "web"}, 1, `kind "web"`},
		{[]string{"--target", "fra=" + down, "--print"}, 1, "no target answered (fra: "},
		{[]string{"--target", "fra=" + down, "--print", "--interval", "10ms", "--count", "2"}, 1, "round 2: no target answered"},
		{[]string{"--help"}, 0, "usage: steer probe"},
	} {
		var out, errb bytes.Buffer
		got := &errb
		if tc.code == 0 {
			got = &out // help goes to stdout
		}
		if code := runProbe(tc.args, &out, &errb); code != tc.code || !strings.Contains(got.String(), tc.want) {
			t.Errorf("%v: exit %d (want %d), stderr %q (want %q)", tc.args, code, tc.code, errb.String(), tc.want)
		}
	}
}

// probeClosedAddr returns a 127.0.0.1 address where nothing listens.
func probeClosedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}
