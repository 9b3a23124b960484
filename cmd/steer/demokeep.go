package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/steer-gslb/steer/dnsserver"
	"github.com/steer-gslb/steer/internal/cli"
)

// The ports a kept demo world serves on (world/steer.yaml), as the
// simulator writes them.
const (
	demoServeDNS   = "127.0.0.1:5353"
	demoServeAdmin = "127.0.0.1:9153"
)

// demoServeUI is where steer demo serve puts the map explorer.
const demoServeUI = "127.0.0.1:8090"

// demoNote marks a directory written by steer demo --keep, and says what is
// in it and how to serve it.
const demoNote = "DEMO.txt"

// prepareKeep makes dir ready for a fresh demo: created when missing;
// emptied when it is a previous demo's (it has demoNote); refused, before
// anything in it is touched, when it holds anything else.
func prepareKeep(dir string) error {
	dir = filepath.Clean(dir)
	if _, err := os.Stat(filepath.Dir(dir)); err != nil {
		return fmt.Errorf("--keep %s: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return writeNote(dir, "A world being built by steer demo --keep (unfinished).\n")
	case err != nil:
		return err
	case len(entries) == 0:
		return writeNote(dir, "A world being built by steer demo --keep (unfinished).\n")
	}
	if _, err := os.Stat(filepath.Join(dir, demoNote)); err != nil {
		return fmt.Errorf("--keep %s: the directory is not empty and was not written by steer demo (no %s): give a new or empty directory", dir, demoNote)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("--keep %s: replacing the previous demo: %w", dir, err)
		}
	}
	return writeNote(dir, "A world being built by steer demo --keep (unfinished).\n")
}

func writeNote(dir, text string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, demoNote), func(w io.Writer) error {
		_, err := io.WriteString(w, text)
		return err
	})
}

// writeKeepNote is the finished demo's note: the layout, the serve command
// and dig commands for the networks the demo showed.
func writeKeepNote(dir string, digs []string) error {
	var b strings.Builder
	fmt.Fprintf(&b, `A world kept by steer demo --keep.

  world/   the simulated world (steer sim): beacons, DNS log, BGP, GeoIP,
           truth, and steer.yaml, the DNS config serving the map directory
  store/   the RUM store the collector filled (DuckDB)
  maps/    the map directory: version 1 (empty: GeoIP decides), version 2
           (the latency map), current.json
  latency.json and its .report, .sources.tsv and .rtt.tsv: the built map

Serve the current map on %s (UDP and TCP; metrics on %s):

  steer demo serve %s

then ask it, e.g.:

`, demoServeDNS, demoServeAdmin, dir)
	for _, d := range digs {
		fmt.Fprintf(&b, "  %s\n", d)
	}
	return writeNote(dir, b.String())
}

const demoServeUsage = `usage: steer demo serve DIR [--listen ADDR] [--ui ADDR]

Serves the map of a world kept by steer demo --keep DIR: the DNS server on
DIR/world/steer.yaml (the same as steer dns --config DIR/world/steer.yaml),
on 127.0.0.1:5353 unless --listen says otherwise, and the map explorer
(steer ui on DIR's latency map and world) on http://127.0.0.1:8090/ unless
--ui says otherwise ("" = none), until interrupted. It
follows DIR/maps: steer publish --dir DIR/maps or steer rollback --dir
DIR/maps change what it answers within a second.
`

func runDemoServe(args []string, stdout, stderr io.Writer) int {
	f := cli.New("steer demo serve", demoServeUsage, "steer demo --keep demo && steer demo serve demo\ndig @127.0.0.1 -p 5353 www.example.net A +subnet=198.51.100.0/24", stdout, stderr)
	listen := f.String("listen", "", "DNS listen address instead of the config's "+demoServeDNS+" (e.g. 127.0.0.1:0 for any free port)")
	uiAddr := f.String("ui", demoServeUI, `the map explorer's address ("" = none)`)
	if code, ok := f.Parse(args); !ok {
		return code
	}
	if f.NArg() != 1 {
		return f.Usagef("one directory DIR (from steer demo --keep DIR) is required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := demoServe(ctx, stdout, f.Arg(0), *listen, *uiAddr); err != nil {
		fmt.Fprintln(stderr, "steer demo serve:", err)
		return 1
	}
	return 0
}

// demoServe runs the DNS server of the kept world in dir until ctx is done.
func demoServe(ctx context.Context, w io.Writer, dir, listen, uiAddr string) error {
	note, err := os.ReadFile(filepath.Join(dir, demoNote))
	if err != nil {
		return fmt.Errorf("%s is not a world kept by steer demo --keep: %w", dir, err)
	}
	cfgPath := filepath.Join(dir, "world", "steer.yaml")
	if listen != "" {
		// A copy next to the kept config, so that its relative paths hold.
		b, err := os.ReadFile(cfgPath)
		if err != nil {
			return err
		}
		s := withListen(string(b), listen)
		cfgPath = filepath.Join(dir, "world", ".steer-demo-serve.yaml")
		if err := os.WriteFile(cfgPath, []byte(s), 0o644); err != nil {
			return err
		}
		defer func() { _ = os.Remove(cfgPath) }()
	}
	s, err := startDemoServer(w, cfgPath)
	if err != nil {
		return err
	}
	defer s.Close()
	addr := s.Addrs()[0]
	fmt.Fprintf(w, "serving %s on %s (UDP and TCP) until interrupted\n", filepath.Join(dir, "maps", "current.json"), addr)
	if _, digs, ok := strings.Cut(string(note), "then ask it, e.g.:\n"); ok {
		digs = strings.ReplaceAll(digs, "@127.0.0.1 -p 5353", fmt.Sprintf("@%s -p %d", addr.Addr(), addr.Port()))
		fmt.Fprint(w, "ask it, e.g.:\n"+digs)
	}
	if uiAddr != "" {
		return serveDemoUI(ctx, w, dir, uiAddr)
	}
	<-ctx.Done()
	return nil
}

// withListen rewrites a demo config (the simulator's or the example's,
// which listen on demoServeDNS and demoServeAdmin) to answer DNS on listen
// and serve metrics on an ephemeral port.
func withListen(cfg, listen string) string {
	cfg = strings.Replace(cfg, `dns: ["`+demoServeDNS+`"]`, fmt.Sprintf("dns: [%q]", listen), 1)
	return strings.Replace(cfg, `admin: "`+demoServeAdmin+`"`, `admin: "127.0.0.1:0"`, 1)
}

// startDemoServer starts a DNS server on cfgPath that logs warnings and
// errors to w.
func startDemoServer(w io.Writer, cfgPath string) (*dnsserver.Server, error) {
	logger := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := dnsserver.New(cfgPath, dnsserver.Options{Logger: logger})
	if err != nil {
		return nil, err
	}
	if err := s.Start(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}
