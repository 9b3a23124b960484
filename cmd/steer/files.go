package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/steer-gslb/steer/internal/atomicfile"
)

// writeFileAtomic writes path through a temporary file in its directory:
// written, fsynced, then renamed over path (and the directory fsynced), so
// readers see the old file or the new one, never half of it, also after a
// kill -9 (test/faults_files_test.go).
func writeFileAtomic(path string, write func(io.Writer) error) error {
	return atomicfile.WriteFunc(path, 0o644, write)
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// newFlags is a command's flag set: errors go to stderr, and so does its
// usage, the text then the flags' defaults.
func newFlags(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	return fs
}

// newLogger is the text logger of a server command at --log-level; a bad
// level is reported as "CMD: bad --log-level: …" and gives nil.
func newLogger(cmd, level string, stderr io.Writer) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		fmt.Fprintf(stderr, "%s: bad --log-level: %v\n", cmd, err)
		return nil
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lv}))
}
