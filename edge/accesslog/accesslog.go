// Package accesslog writes the edge proxy's access log: one NDJSON line per
// request (docs/DESIGN.md, "Edge access log") with the request's facts, the
// client's network and the kernel's TCP_INFO for the client connection:
//
//	{"ts":"2026-03-01T12:00:00.123456Z","pop":"fra","req":"fra-5f2a9c","method":"GET","host":"www.example.com","path":"/a/b","status":200,"bytes_in":0,"bytes_out":1024,"dur_us":1830,"upstream":"dc1","upstream_us":1410,"proto":"HTTP/2.0","tls":"1.3","client_net":"203.0.113.0/24","tcp_rtt_us":12500,"tcp_rttvar_us":1200,"tcp_min_rtt_us":11800,"tcp_retrans":0,"tcp_total_retrans":0,"tcp_cwnd":10,"tcp_delivery_rate":1250000}
//
// Privacy is enforced at the door: an Entry carries the client's address,
// and the Writer itself truncates it to its /24 (IPv4) or /56 (IPv6), so no
// caller can write a full client address. The path is written without its
// query string, which may hold tokens.
//
// `steer ingest` loads the log into the RUM store (package store), where
// the TCP RTTs become a latency signal for the serving PoP (`steer build
// --edge-rtt`). ParseLine is the reading side.
package accesslog

import (
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/steer-gslb/steer/edge/tcpinfo"
)

// Entry is one request as the proxy saw it. Zero fields are left out of the
// line (except status and the byte counts).
type Entry struct {
	Time             time.Time     // when the request arrived
	PoP              string        // this PoP's label
	RequestID        string        // the request ID (echoed to the client, sent upstream)
	Method           string        // request method
	Host             string        // Host header or :authority
	Path             string        // URL path; anything from '?' on is dropped
	Status           int           // response status
	BytesIn          int64         // request body bytes read
	BytesOut         int64         // response body bytes written
	Duration         time.Duration // from the request's arrival to the last byte written
	Upstream         string        // the origin (pool or data center) that served it
	UpstreamDuration time.Duration // time spent waiting for the origin's response headers
	Proto            string        // "HTTP/1.1", "HTTP/2.0"
	TLSVersion       uint16        // tls.VersionTLS12, tls.VersionTLS13; 0 = plain
	// Client is the client's address. The Writer logs only its network
	// (/24 or /56), never the address.
	Client netip.Addr
	// TCP is the client connection's TCP_INFO when HasTCP.
	TCP    tcpinfo.Info
	HasTCP bool
}

// ClientNetwork is the network an address is logged as: its /24 (IPv4,
// IPv4-mapped IPv6 included) or /56 (IPv6), without zone. The zero Addr
// gives the zero Prefix.
func ClientNetwork(a netip.Addr) netip.Prefix {
	if !a.IsValid() {
		return netip.Prefix{}
	}
	a = a.Unmap().WithZone("")
	bits := 56
	if a.Is4() {
		bits = 24
	}
	p, _ := a.Prefix(bits)
	return p
}

// Limits on the strings of a line, so that a hostile request cannot make
// the log line unbounded: longer values are cut (on a UTF-8 boundary).
const (
	maxPath  = 1024
	maxHost  = 255
	maxShort = 64 // method, request ID, PoP, upstream, proto
)

// tsLayout is the line's timestamp: UTC, microseconds.
const tsLayout = "2006-01-02T15:04:05.000000Z07:00"

// appendTime appends t in tsLayout. It writes the digits itself, about
// 2.5x faster than time.AppendFormat (BenchmarkAppendTime); years outside
// 0–9999 go through AppendFormat.
func appendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(dst, tsLayout)
	}
	hour, minute, sec := t.Clock()
	us := t.Nanosecond() / 1000
	var b [27]byte
	put := func(i, v, n int) {
		for j := i + n - 1; j >= i; j-- {
			b[j] = byte('0' + v%10)
			v /= 10
		}
	}
	put(0, year, 4)
	b[4] = '-'
	put(5, int(month), 2)
	b[7] = '-'
	put(8, day, 2)
	b[10] = 'T'
	put(11, hour, 2)
	b[13] = ':'
	put(14, minute, 2)
	b[16] = ':'
	put(17, sec, 2)
	b[19] = '.'
	put(20, us, 6)
	b[26] = 'Z'
	return append(dst, b[:]...)
}

// AppendLine appends e's log line, newline included, to dst. It allocates
// nothing when dst has room.
func AppendLine(dst []byte, e *Entry) []byte {
	dst = append(dst, `{"ts":"`...)
	dst = appendTime(dst, e.Time)
	dst = append(dst, '"')
	dst = appendStr(dst, `,"pop":`, e.PoP, maxShort)
	dst = appendStr(dst, `,"req":`, e.RequestID, maxShort)
	dst = appendStr(dst, `,"method":`, e.Method, maxShort)
	dst = appendStr(dst, `,"host":`, e.Host, maxHost)
	path := e.Path
	for i := 0; i < len(path); i++ {
		if path[i] == '?' || path[i] == '#' {
			path = path[:i]
			break
		}
	}
	dst = appendStr(dst, `,"path":`, path, maxPath)
	dst = append(dst, `,"status":`...)
	dst = strconv.AppendInt(dst, int64(e.Status), 10)
	dst = append(dst, `,"bytes_in":`...)
	dst = strconv.AppendInt(dst, e.BytesIn, 10)
	dst = append(dst, `,"bytes_out":`...)
	dst = strconv.AppendInt(dst, e.BytesOut, 10)
	dst = append(dst, `,"dur_us":`...)
	dst = strconv.AppendInt(dst, e.Duration.Microseconds(), 10)
	dst = appendStr(dst, `,"upstream":`, e.Upstream, maxShort)
	if e.UpstreamDuration > 0 {
		dst = append(dst, `,"upstream_us":`...)
		dst = strconv.AppendInt(dst, e.UpstreamDuration.Microseconds(), 10)
	}
	dst = appendStr(dst, `,"proto":`, e.Proto, maxShort)
	if v := tlsVersion(e.TLSVersion); v != "" {
		dst = append(dst, `,"tls":"`...)
		dst = append(dst, v...)
		dst = append(dst, '"')
	}
	if p := ClientNetwork(e.Client); p.IsValid() {
		dst = append(dst, `,"client_net":"`...)
		dst = p.AppendTo(dst)
		dst = append(dst, '"')
	}
	if e.HasTCP {
		t := &e.TCP
		dst = append(dst, `,"tcp_rtt_us":`...)
		dst = strconv.AppendInt(dst, t.RTT.Microseconds(), 10)
		dst = append(dst, `,"tcp_rttvar_us":`...)
		dst = strconv.AppendInt(dst, t.RTTVar.Microseconds(), 10)
		dst = append(dst, `,"tcp_min_rtt_us":`...)
		dst = strconv.AppendInt(dst, t.MinRTT.Microseconds(), 10)
		dst = append(dst, `,"tcp_retrans":`...)
		dst = strconv.AppendUint(dst, uint64(t.Retransmits), 10)
		dst = append(dst, `,"tcp_total_retrans":`...)
		dst = strconv.AppendUint(dst, uint64(t.TotalRetrans), 10)
		dst = append(dst, `,"tcp_cwnd":`...)
		dst = strconv.AppendUint(dst, uint64(t.Cwnd), 10)
		dst = append(dst, `,"tcp_delivery_rate":`...)
		dst = strconv.AppendUint(dst, t.DeliveryRate, 10)
	}
	return append(dst, "}\n"...)
}

func tlsVersion(v uint16) string {
	switch v {
	case 0x0301:
		return "1.0"
	case 0x0302:
		return "1.1"
	case 0x0303:
		return "1.2"
	case 0x0304:
		return "1.3"
	}
	return ""
}

// appendStr appends key and s as a JSON string, cut to at most max bytes;
// nothing when s is empty.
func appendStr(dst []byte, key, s string, limit int) []byte {
	if s == "" {
		return dst
	}
	if len(s) > limit {
		s = s[:limit]
		for len(s) > 0 && !utf8.ValidString(s[len(s)-min(len(s), utf8.UTFMax):]) {
			s = s[:len(s)-1]
		}
	}
	dst = append(dst, key...)
	return appendJSONString(dst, s)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s quoted as a JSON string: control characters,
// quotes, backslashes and invalid UTF-8 escaped (the latter as U+FFFD), and
// U+2028/U+2029 escaped as encoding/json does.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
