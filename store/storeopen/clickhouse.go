package storeopen

import (
	"context"

	"github.com/steer-gslb/steer/store"
	"github.com/steer-gslb/steer/store/chstore"
)

// openClickHouse opens a ClickHouse store. ReadOnly is not enforced there
// (the server's users config is where an operator makes a reader read
// only): the commands that only read never write.
func openClickHouse(ctx context.Context, spec string, _ Options) (store.Store, error) {
	return chstore.Open(ctx, spec, chstore.Options{})
}
