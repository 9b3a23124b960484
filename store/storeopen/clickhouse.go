package storeopen

import (
	"context"
	"errors"

	"github.com/steer-gslb/steer/store"
)

func openClickHouse(ctx context.Context, spec string, opt Options) (store.Store, error) {
	return nil, errors.New("clickhouse: not available yet")
}
