//go:build !linux

package edge

import "net"

// shrinkBacklog is a no-op where the backlog cannot be changed.
func shrinkBacklog(net.Listener) {}
