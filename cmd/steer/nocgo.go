//go:build !cgo

package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/steer-gslb/steer/mapstore"
	"github.com/steer-gslb/steer/planner"
)

// The RUM store is DuckDB, which needs cgo: a steer built without a C
// compiler has every other command, and says so for these two.

const noCgo = "this steer was built without cgo, and the RUM store (DuckDB) needs it: install a C/C++ compiler (apt-get install gcc g++) and build with CGO_ENABLED=1"

func runCollect(_ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "steer collect:", noCgo)
	return 1
}

func runIngest(_ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "steer ingest:", noCgo)
	return 1
}

func runStore(_ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "steer store:", noCgo)
	return 1
}

func runBuild(_ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "steer build:", noCgo)
	return 1
}

func runEval(_ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "steer eval:", noCgo)
	return 1
}

func heldOutGate(storeDir string) (mapstore.Gate, func() error, error) {
	if storeDir == "" {
		return nil, func() error { return nil }, nil
	}
	return nil, nil, fmt.Errorf("--store: %s", noCgo)
}

// loopOptions is the end-to-end demo's; without cgo it cannot run.
type loopOptions struct {
	networks int
	seed     uint64
	keep     string
	workers  int
	ui       string
}

func runLoopDemo(_ io.Writer, _ loopOptions) error {
	return fmt.Errorf("the end-to-end demo needs the RUM store: %s; `steer demo dns` runs the DNS server part alone", noCgo)
}

func rumPoints(string, string, []planner.Site) ([]planner.Point, string, error) {
	return nil, "", fmt.Errorf("--store: %s", noCgo)
}

func runUI(_ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "steer ui: this steer was built without cgo, and the map explorer's h3 library needs it: install a C compiler (apt-get install gcc) and build with CGO_ENABLED=1")
	return 1
}

func serveDemoUI(_ context.Context, _ io.Writer, _, _ string) error {
	return errors.New("the map explorer needs cgo (h3): build steer with CGO_ENABLED=1, or pass --ui \"\"")
}

func runLearn(_ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "steer learn:", noCgo)
	return 1
}
