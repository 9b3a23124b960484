// Package httpcond holds the one conditional-request rule the project's HTTP
// handlers share (the RUM script, the explorer's tiles).
package httpcond

import "strings"

// NoneMatch reports whether If-None-Match (RFC 9110 §13.1.2) matches etag,
// so that the answer is 304: "*", or a listed tag equal to etag by weak
// comparison (W/ is ignored).
func NoneMatch(values []string, etag string) bool {
	for _, v := range values {
		for tag := range strings.SplitSeq(v, ",") {
			tag = strings.TrimSpace(tag)
			if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
				return true
			}
		}
	}
	return false
}
