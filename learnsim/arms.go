package learnsim

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/steer-gslb/steer/internal/chart"
)

// Arms runs (or, with Replot, reads back) one run per arm of c, under a
// directory: arm a's run is named Prefix+a, its store is NAME.store and
// its steps NAME.json (WriteSteps).
type Arms struct {
	Dir    string
	Prefix string
	Arms   []Arm
	Replot bool // run nothing: read each arm's NAME.json
}

// Run runs the arms in turn with c (its Arm and Store set per arm) and
// writes each one's steps; with Replot it reads them instead.
func (a Arms) Run(ctx context.Context, c Config) ([]Series, error) {
	var runs []Series
	for _, arm := range a.Arms {
		name := a.Prefix + string(arm)
		path := filepath.Join(a.Dir, name+".json")
		if a.Replot {
			steps, err := ReadSteps(path)
			if err != nil {
				return nil, err
			}
			runs = append(runs, Series{Name: name, Steps: steps})
			continue
		}
		cfg := c
		cfg.Arm, cfg.Store = arm, filepath.Join(a.Dir, name+".store")
		if err := os.MkdirAll(cfg.Store, 0o755); err != nil {
			return nil, err
		}
		steps, err := Run(ctx, cfg)
		if err != nil {
			return nil, err
		}
		if err := WriteSteps(path, steps); err != nil {
			return nil, err
		}
		runs = append(runs, Series{Name: name, Steps: steps})
	}
	return runs, nil
}

// SaveChart draws the runs (Chart) into the PNG file Dir/PREFIXlearn.png.
func (a Arms) SaveChart(title string, runs []Series) error {
	img, err := Chart(title, runs)
	if err != nil {
		return err
	}
	return chart.SaveImage(filepath.Join(a.Dir, a.Prefix+"learn.png"), img)
}

// WriteSteps writes steps as JSON lines (one object per build).
func WriteSteps(path string, steps []Step) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	for _, s := range steps {
		if err := enc.Encode(s); err != nil {
			_ = f.Close()
			return err
		}
	}
	return f.Close()
}

// ReadSteps reads WriteSteps' file.
func ReadSteps(path string) ([]Step, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read-only
	var steps []Step
	dec := json.NewDecoder(f)
	for dec.More() {
		var s Step
		if err := dec.Decode(&s); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		steps = append(steps, s)
	}
	return steps, nil
}
