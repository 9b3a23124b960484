package test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/steer-gslb/steer/collector"
	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/control"
	"github.com/steer-gslb/steer/examples"
)

// corruptions of a good file: what a full disk, a bad copy or an editor
// crash leave behind.
func corruptions(good []byte, rng *rand.Rand) map[string][]byte {
	out := map[string][]byte{
		"empty":     {},
		"truncated": good[:len(good)/2],
		"binary":    {0x7f, 'E', 'L', 'F', 0, 0, 0xff, 0xfe, '\n', 0},
		"nul bytes": make([]byte, len(good)),
		"not yaml":  []byte("{{{ this: is: not [ yaml\n"),
	}
	flipped := append([]byte(nil), good...)
	for range 8 {
		flipped[rng.IntN(len(flipped))] ^= 0x5a
	}
	out["bits flipped"] = flipped
	return out
}

// TestFaultCorruptConfigs feeds every config parser corrupted files: each
// is refused with an error that names the file, or (a corruption that
// still parses: a flipped bit in a comment) accepted; none panics.
func TestFaultCorruptConfigs(t *testing.T) {
	dir := t.TempDir()
	if err := examples.WriteTo(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "control.yaml"), read(t, "../examples/control.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	collectorYAML := []byte("listen: 127.0.0.1:0\ntokens: [a-long-random-agent-token-0001]\nrate: 10\nburst: 20\n")
	loaders := map[string]struct {
		good []byte
		load func(path string) error
	}{
		"steer dns": {read(t, filepath.Join(dir, "steer.yaml")), func(p string) error { _, err := config.Load(p); return err }},
		"steer control": {read(t, filepath.Join(dir, "control.yaml")), func(p string) error {
			_, err := control.LoadConfigFile(p)
			return err
		}},
		"steer collect": {collectorYAML, func(p string) error { _, err := collector.LoadConfig(p); return err }},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for name, l := range loaders {
		goodPath := filepath.Join(dir, "good.yaml")
		if err := os.WriteFile(goodPath, l.good, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := l.load(goodPath); err != nil {
			t.Fatalf("%s: the good config: %v", name, err)
		}
		for what, data := range corruptions(l.good, rng) {
			path := filepath.Join(dir, "corrupt.yaml")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			err := l.load(path)
			if err == nil {
				if what != "bits flipped" {
					t.Errorf("%s: %s config accepted", name, what)
				}
				continue
			}
			if !strings.Contains(err.Error(), "corrupt.yaml") {
				t.Errorf("%s: %s config: error %q does not name the file", name, what, err)
			}
		}
	}
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFaultCorruptConfigOnReload replaces a running DNS server's config
// with corrupted files: each reload fails loudly (metric, log line naming
// the file) and the server keeps answering from the config it had.
func TestFaultCorruptConfigOnReload(t *testing.T) {
	s := startSteer(t, nil)
	ecs := netip.MustParsePrefix("203.0.113.0/24")
	answer := func() string {
		r, err := query(s.addr, netip.Addr{}, "www.example.net.", dns.TypeA, ecs, 2*time.Second)
		if err != nil {
			return "error: " + err.Error()
		}
		return fmt.Sprint(answerAddrs(r))
	}
	want := answer()
	if strings.HasPrefix(want, "error") || want == "[]" {
		t.Fatalf("no answer before the fault: %s", want)
	}
	good := read(t, s.cfgPath)
	rng := rand.New(rand.NewPCG(3, 4))
	n := 0
	for what, data := range corruptions(good, rng) {
		if what == "bits flipped" {
			continue // may still be a valid config
		}
		before := s.metrics(t).sum("steer_dns_reloads_total", map[string]string{"result": "failure"})
		writeAtomic(t, s.cfgPath, data, time.Now().Add(time.Duration(n+1)*time.Second))
		n++
		eventually(t, 10*time.Second, "the reload of the "+what+" config to fail", func() bool {
			return s.metrics(t).sum("steer_dns_reloads_total", map[string]string{"result": "failure"}) > before
		})
		if got := answer(); got != want {
			t.Errorf("after a %s config: answer %s, want %s (the old config)", what, got, want)
		}
		if v := s.metrics(t).sum("steer_dns_config_last_reload_successful", nil); v != 0 {
			t.Errorf("after a %s config: last_reload_successful = %v", what, v)
		}
	}
	if !strings.Contains(s.logs.String(), filepath.Base(s.cfgPath)) {
		t.Errorf("the reload failures do not name %s in the log", s.cfgPath)
	}
	// The good config back: the next reload succeeds.
	before := s.metrics(t).sum("steer_dns_reloads_total", map[string]string{"result": "success"})
	writeAtomic(t, s.cfgPath, good, time.Now().Add(time.Minute))
	eventually(t, 10*time.Second, "the good config to reload", func() bool {
		return s.metrics(t).sum("steer_dns_reloads_total", map[string]string{"result": "success"}) > before
	})
	if got := answer(); got != want {
		t.Errorf("after the good config came back: %s, want %s", got, want)
	}
}
