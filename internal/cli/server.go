package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/steer-gslb/steer/internal/version"
)

// ServerFlags are the flags the data-plane binaries (steer-dns, steer-edge)
// share: --config, --log-level, --cpuprofile and --version.
type ServerFlags struct {
	Config            *string
	level, cpuprofile *string
	showVersion       *bool
	fs                *FlagSet
}

// AddServerFlags defines the shared server flags on fs, --config
// defaulting to config.
func AddServerFlags(fs *FlagSet, config string) *ServerFlags {
	return &ServerFlags{
		fs:          fs,
		Config:      fs.String("config", config, "config file (YAML)"),
		level:       fs.String("log-level", "info", "log level: debug, info, warn, error"),
		cpuprofile:  fs.String("cpuprofile", "", "write a CPU profile to this file until exit (for benchmarks)"),
		showVersion: fs.Bool("version", false, "print the version and exit"),
	}
}

// Start acts on the parsed flags: it rejects positional arguments, prints
// the version (--version), starts the CPU profile, and returns a text
// logger on stderr at --log-level and a context cancelled by SIGINT or
// SIGTERM. When ok is false the program exits with code at once;
// otherwise it calls stop before it exits.
func (f *ServerFlags) Start() (ctx context.Context, logger *slog.Logger, stop func(), code int, ok bool) {
	fs := f.fs
	if fs.NArg() > 0 {
		return nil, nil, nil, fs.Usagef("unexpected argument %q", fs.Arg(0)), false
	}
	if *f.showVersion {
		fmt.Fprintln(fs.stdout, version.Get().String(fs.Name()))
		return nil, nil, nil, 0, false
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*f.level)); err != nil {
		return nil, nil, nil, fs.Usagef("bad --log-level: %v", err), false
	}
	stopProfile := func() {}
	if *f.cpuprofile != "" {
		if err := startProfile(*f.cpuprofile); err != nil {
			fmt.Fprintf(fs.stderr, "%s: --cpuprofile: %v\n", fs.Name(), err)
			return nil, nil, nil, 2, false
		}
		stopProfile = pprof.StopCPUProfile
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	logger = slog.New(slog.NewTextHandler(fs.stderr, &slog.HandlerOptions{Level: lv}))
	return ctx, logger, func() { cancel(); stopProfile() }, 0, true
}

func startProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return err
	}
	return nil
}

// Fail reports a server's error as "NAME: ERROR" on stderr and returns 1.
func (f *ServerFlags) Fail(err error) int {
	fmt.Fprintf(f.fs.stderr, "%s: %v\n", f.fs.Name(), err)
	return 1
}
