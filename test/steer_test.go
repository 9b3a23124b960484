package test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.yaml.in/yaml/v3"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/dnsserver"
	"github.com/steer-gslb/steer/examples"
	"github.com/steer-gslb/steer/internal/syncbuf"
	"github.com/steer-gslb/steer/popmap"
)

// steerServer is an in-process steer DNS server on 127.0.0.1 running the
// example config (with a map of the test's choosing) from a temporary
// directory.
type steerServer struct {
	dir     string
	cfgPath string
	mapPath string
	cfg     *config.Config
	srv     *dnsserver.Server
	addr    netip.AddrPort  // UDP and TCP
	admin   string          // host:port of /metrics
	logs    *syncbuf.Buffer // everything the server logged, at debug level
	close   func()          // closes the server (once; also done at cleanup)
}

// startSteer lays out and starts a server (see layoutSteer); it is closed
// when the test ends.
func startSteer(t *testing.T, m *popmap.Map) *steerServer {
	t.Helper()
	s := layoutSteer(t, m)
	s.start(t, s.newServer(t))
	return s
}

// layoutSteer lays out the examples in a temporary directory, points the
// listeners at 127.0.0.1:0 with two UDP sockets, turns on the file watch
// with a 50 ms debounce and replaces map.json by m (when not nil).
func layoutSteer(t *testing.T, m *popmap.Map) *steerServer {
	t.Helper()
	dir := t.TempDir()
	if err := examples.WriteTo(dir); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "steer.yaml")
	editYAML(t, cfgPath, map[string]string{
		"listen.dns":         `["127.0.0.1:0"]`,
		"listen.admin":       `"127.0.0.1:0"`,
		"listen.udp_sockets": `2`,
		"reload":             `{watch: true, debounce: 50ms}`,
	})
	mapPath := filepath.Join(dir, "map.json")
	if m != nil {
		writeMap(t, mapPath, m)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	return &steerServer{dir: dir, cfgPath: cfgPath, mapPath: mapPath, cfg: cfg, logs: &syncbuf.Buffer{}}
}

// newServer loads the laid-out config, logging at debug level into s.logs.
func (s *steerServer) newServer(t *testing.T) *dnsserver.Server {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := dnsserver.New(s.cfgPath, dnsserver.Options{Logger: logger})
	if err != nil {
		t.Fatalf("dnsserver.New(%s): %v", s.cfgPath, err)
	}
	return srv
}

// start starts srv and closes it when the test ends.
func (s *steerServer) start(t *testing.T, srv *dnsserver.Server) {
	t.Helper()
	var once sync.Once
	s.close = func() { once.Do(srv.Close) }
	t.Cleanup(func() {
		s.close()
		if t.Failed() {
			t.Logf("steer log:\n%s", s.logs.String())
		}
	})
	if err := srv.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	s.srv, s.addr, s.admin = srv, srv.Addrs()[0], srv.AdminAddr()
}

// editYAML sets keys (dotted paths into nested mappings) of the YAML file at
// path to values written in YAML, keeping the rest of the file.
func editYAML(t *testing.T, path string, set map[string]string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for key, val := range set {
		var v yaml.Node
		if err := yaml.Unmarshal([]byte(val), &v); err != nil {
			t.Fatalf("value of %s: %v", key, err)
		}
		node := doc.Content[0]
		parts := strings.Split(key, ".")
		for i, p := range parts {
			if node.Kind != yaml.MappingNode {
				t.Fatalf("%s: %s is not a mapping", path, strings.Join(parts[:i], "."))
			}
			j := mappingIndex(node, p)
			if j < 0 {
				node.Content = append(node.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: p}, &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"})
				j = len(node.Content) - 1
			}
			if i == len(parts)-1 {
				node.Content[j] = v.Content[0]
			}
			node = node.Content[j]
		}
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// mappingIndex returns the index of the value of key in a mapping node, or -1.
func mappingIndex(m *yaml.Node, key string) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return i + 1
		}
	}
	return -1
}

// encodeMap returns m in NS1 JSON form.
func encodeMap(t *testing.T, m *popmap.Map) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := m.Encode(&b); err != nil {
		t.Fatal(err)
	}
	if _, err := popmap.Parse(b.Bytes()); err != nil {
		t.Fatalf("test map does not parse: %v", err)
	}
	return b.Bytes()
}

func writeMap(t *testing.T, path string, m *popmap.Map) {
	t.Helper()
	if err := os.WriteFile(path, encodeMap(t, m), 0o644); err != nil {
		t.Fatal(err)
	}
}

// mapOf builds a map from "prefix=label,label" pairs.
func mapOf(t *testing.T, version int64, entries ...string) *popmap.Map {
	t.Helper()
	m := &popmap.Map{Meta: popmap.Meta{Version: version}}
	for _, e := range entries {
		nets, labels, ok := strings.Cut(e, "=")
		if !ok {
			t.Fatalf("bad map entry %q", e)
		}
		var ent popmap.Entry
		for _, n := range strings.Split(nets, " ") {
			ent.Networks = append(ent.Networks, netip.MustParsePrefix(n))
		}
		for _, l := range strings.Split(labels, ",") {
			ent.Labels = append(ent.Labels, popmap.Label(l))
		}
		m.Entries = append(m.Entries, ent)
	}
	return m
}

// popAddr4 returns the IPv4 service addresses of a PoP of the config.
func (s *steerServer) popAddr4(t *testing.T, l popmap.Label) []netip.Addr {
	t.Helper()
	p, ok := s.cfg.PoP(l)
	if !ok {
		t.Fatalf("PoP %q not in the config", l)
	}
	return p.IPv4
}

// metrics scrapes the server's /metrics.
func (s *steerServer) metrics(t *testing.T) metricSet {
	t.Helper()
	return scrape(t, s.admin)
}

// metricSet holds one scrape: each sample with its labels.
type metricSet []sample

type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// sum adds the samples of name whose labels include want.
func (ms metricSet) sum(name string, want map[string]string) float64 {
	total := 0.0
	for _, s := range ms {
		if s.name != name {
			continue
		}
		ok := true
		for k, v := range want {
			if s.labels[k] != v {
				ok = false
			}
		}
		if ok {
			total += s.value
		}
	}
	return total
}

func scrape(t *testing.T, admin string) metricSet {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scraping metrics: %v", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scraping metrics: %s", resp.Status)
	}
	ms, err := parseMetrics(resp.Body)
	if err != nil {
		t.Fatalf("parsing metrics: %v", err)
	}
	return ms
}

// parseMetrics reads the Prometheus text format: `name{k="v",…} value`.
func parseMetrics(r io.Reader) (metricSet, error) {
	var ms metricSet
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		s := sample{labels: map[string]string{}}
		i := strings.IndexAny(line, "{ ")
		if i < 0 {
			return nil, fmt.Errorf("bad line %q", line)
		}
		s.name, line = line[:i], line[i:]
		if line[0] == '{' {
			line = line[1:]
			for line != "" && line[0] != '}' {
				eq := strings.Index(line, `="`)
				if eq < 0 {
					return nil, fmt.Errorf("bad labels in %q", sc.Text())
				}
				k := line[:eq]
				line = line[eq+2:]
				var v strings.Builder
				for line != "" && line[0] != '"' {
					if line[0] == '\\' && len(line) > 1 {
						line = line[1:]
					}
					v.WriteByte(line[0])
					line = line[1:]
				}
				if line == "" {
					return nil, fmt.Errorf("unterminated label value in %q", sc.Text())
				}
				s.labels[k] = v.String()
				line = strings.TrimPrefix(line[1:], ",")
			}
			line = strings.TrimPrefix(line, "}")
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			return nil, fmt.Errorf("no value in %q", sc.Text())
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("value in %q: %w", sc.Text(), err)
		}
		s.value = v
		ms = append(ms, s)
	}
	return ms, sc.Err()
}

// eventually polls cond every 10 ms until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		<-tick.C
	}
}

// query sends one question over UDP from the local address src (any when
// invalid), with an ECS option when ecs is valid.
func query(addr netip.AddrPort, src netip.Addr, name string, qtype uint16, ecs netip.Prefix, timeout time.Duration) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	if ecs.IsValid() {
		m.SetEdns0(1232, false)
		opt := m.IsEdns0()
		o := &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, SourceNetmask: uint8(ecs.Bits()), Address: ecs.Addr().AsSlice()}
		o.Family = 1
		if ecs.Addr().Is6() {
			o.Family = 2
		}
		opt.Option = append(opt.Option, o)
	}
	c := &dns.Client{Net: "udp", Timeout: timeout}
	if src.IsValid() {
		c.Dialer = &net.Dialer{Timeout: timeout, LocalAddr: net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0))}
	}
	r, _, err := c.Exchange(m, addr.String())
	return r, err
}

// answerAddrs returns the A and AAAA addresses of a response, in order.
func answerAddrs(r *dns.Msg) []netip.Addr {
	var out []netip.Addr
	for _, rr := range r.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			a, _ := netip.AddrFromSlice(rr.A.To4())
			out = append(out, a)
		case *dns.AAAA:
			a, _ := netip.AddrFromSlice(rr.AAAA)
			out = append(out, a)
		}
	}
	return out
}

// replyScope returns the ECS scope of a response, or -1 without ECS.
func replyScope(r *dns.Msg) int {
	if opt := r.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_SUBNET); ok {
				return int(e.SourceScope)
			}
		}
	}
	return -1
}
