//go:build !unix

package mapstore

import "errors"

// lock is not implemented without flock(2): publishing refuses rather
// than risk two unserialised writers.
func lock(string) (func() error, error) {
	return nil, errors.New("map directory locking needs flock(2) (unix)")
}
