//go:build !cgo

package main

import (
	"fmt"

	"github.com/steer-gslb/steer/explain"
)

func storeEstimator(string) (explain.Estimator, func() error, error) {
	return nil, nil, fmt.Errorf("--store: %s", noCgo)
}
