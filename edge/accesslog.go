package edge

import (
	"github.com/steer-gslb/steer/edge/accesslog"
	"github.com/steer-gslb/steer/edge/tcpinfo"
)

// AccessLogHook is an [Options.OnRequest] hook writing each request to w
// with the client connection's TCP_INFO. The client is written as its
// network only (RequestInfo never holds more).
func AccessLogHook(w *accesslog.Writer, pop string) func(*RequestInfo) {
	return func(ri *RequestInfo) {
		e := accesslog.Entry{
			Time:             ri.Start,
			PoP:              pop,
			RequestID:        ri.ID,
			Method:           ri.Method,
			Host:             ri.Host,
			Path:             ri.Path,
			Status:           ri.Status,
			BytesIn:          ri.BytesIn,
			BytesOut:         ri.BytesOut,
			Duration:         ri.Duration,
			Upstream:         ri.Upstream,
			UpstreamDuration: ri.UpstreamDuration,
			Proto:            ri.Proto,
			TLSVersion:       ri.TLSVersion,
			Client:           ri.Client.Addr(),
		}
		if ri.Conn != nil {
			if info, err := tcpinfo.Read(ri.Conn); err == nil {
				e.TCP, e.HasTCP = info, true
			}
		}
		w.Write(&e)
	}
}

// chainHooks calls a then b (either may be nil).
func chainHooks(a, b func(*RequestInfo)) func(*RequestInfo) {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return func(ri *RequestInfo) { a(ri); b(ri) }
}
