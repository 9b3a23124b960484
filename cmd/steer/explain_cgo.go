//go:build cgo

package main

import (
	"context"

	"github.com/steer-gslb/steer/explain"
	"github.com/steer-gslb/steer/explain/storeest"
)

// storeEstimator reads a store (read-only) for `steer explain --store`.
func storeEstimator(dir string) (explain.Estimator, func() error, error) {
	st, err := openForReading(dir)
	if err != nil {
		return nil, nil, err
	}
	est, err := storeest.Estimates(context.Background(), st)
	if err != nil {
		_ = st.Close()
		return nil, nil, err
	}
	return est, st.Close, nil
}
