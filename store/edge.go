package store

import (
	"errors"
	"fmt"
	"time"

	"github.com/steer-gslb/steer/edge/accesslog"
	"github.com/steer-gslb/steer/rum"
)

// Edge access-log lines (package edge/accesslog) are stored as beacons of
// their own kind: one beacon per line that carries TCP_INFO, with agent
// kind EdgeKind, timer EdgeTimer and source EdgeSource, holding one sample
// whose target and served_by are the PoP that served the request, probe
// tcp, and rtt_ms the connection's smoothed TCP RTT. Received is the
// line's own time (the edge's clock, a server's). The schema is unchanged:
// the builder tells these samples apart by the beacon's kind, drops them
// unless asked (builder.Options.EdgeRTT), and then uses each only for the
// PoP that served it.
const (
	EdgeKind   = "edge"
	EdgeTimer  = "tcp_info"
	EdgeSource = "edge"
)

// EdgeBeacon fills bc with the one-sample beacon that stores an edge log
// record's TCP RTT: the client network truncated to /24 or /56 (a bare
// address or a finer prefix included), target and served_by the PoP.
func EdgeBeacon(r *accesslog.Record, bc *rum.Beacon) error {
	if !r.HasTCP {
		return errors.New("no TCP_INFO")
	}
	if !r.ClientNet.IsValid() {
		return errors.New("client_net: missing")
	}
	if !edgeLabel(r.PoP) {
		return fmt.Errorf("pop: %q is not a PoP label (1..%d of a-z, 0-9, -)", r.PoP, rum.MaxLabelLen)
	}
	cn, _ := Truncate(r.ClientNet)
	bc.V = 1
	bc.ClientSubnet = cn
	bc.Agent = rum.Agent{Kind: EdgeKind, Timer: EdgeTimer}
	bc.DNSTest = ""
	if cap(bc.Samples) == 0 {
		bc.Samples = make([]rum.Sample, 1)
	}
	bc.Samples = bc.Samples[:1]
	bc.Samples[0] = rum.Sample{
		TS:       r.Time,
		Target:   r.PoP,
		Probe:    rum.ProbeTCP,
		RTTms:    float64(r.RTT) / float64(time.Millisecond),
		ServedBy: r.PoP,
	}
	return nil
}

// edgeLabel reports whether s is a PoP label (rum's rule) other than anycast.
func edgeLabel(s string) bool {
	if len(s) == 0 || len(s) > rum.MaxLabelLen || s == rum.Anycast {
		return false
	}
	for _, c := range []byte(s) {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}
