package dnsserver

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// DNS constants used on the wire. miekg/dns has them too; the parser keeps
// to plain integers so the hot path stays free of its types.
const (
	typeA     = 1
	typeNS    = 2
	typeCNAME = 5
	typeSOA   = 6
	typeTXT   = 16
	typeAAAA  = 28
	typeOPT   = 41
	typeIXFR  = 251
	typeAXFR  = 252
	typeANY   = 255
	classIN   = 1
	classANY  = 255
	optECS    = 8
	optCookie = 10
	optNSID   = 3

	headerLen = 12
	maxName   = 255
)

// Errors of the query parser. A query whose header cannot be read is
// dropped; any later error is answered with FORMERR.
var (
	ErrShort      = errors.New("message shorter than a DNS header")
	errFormat     = errors.New("malformed query")
	errNotQuery   = errors.New("message is a response")
	errECSFamily  = errors.New("ECS: unknown address family")
	errECSLen     = errors.New("ECS: option length does not match the source prefix")
	errECSSource  = errors.New("ECS: source prefix longer than the address")
	errECSScope   = errors.New("ECS: non-zero scope in a query")
	errECSBits    = errors.New("ECS: address bits set beyond the source prefix")
	errTwoOPT     = errors.New("more than one OPT record")
	errOPTName    = errors.New("OPT record owner is not the root")
	errCookieLen  = errors.New("COOKIE: bad length")
	errTwoECS     = errors.New("ECS: option repeated")
	errTrailing   = errors.New("trailing bytes after the last record")
	errNameFormat = errors.New("bad name")
)

// ECS is a parsed EDNS Client Subnet option (RFC 7871).
type ECS struct {
	Prefix netip.Prefix // source address masked to Source bits
	Family uint16       // 1 = IPv4, 2 = IPv6
	Source uint8        // SOURCE PREFIX-LENGTH
}

// ParseECS parses the payload of an ECS option in a query. It enforces RFC
// 7871 §6: a known family, a source no longer than the address, exactly
// ceil(source/8) address octets with no bits set past the source, and a zero
// scope.
func ParseECS(b []byte) (ECS, error) {
	if len(b) < 4 {
		return ECS{}, errECSLen
	}
	fam := binary.BigEndian.Uint16(b)
	src, scope := b[2], b[3]
	addr := b[4:]
	var width int
	switch fam {
	case 1:
		width = 32
	case 2:
		width = 128
	default:
		return ECS{}, fmt.Errorf("%w %d", errECSFamily, fam)
	}
	if int(src) > width {
		return ECS{}, errECSSource
	}
	if scope != 0 {
		return ECS{}, errECSScope
	}
	if len(addr) != (int(src)+7)/8 {
		return ECS{}, errECSLen
	}
	if src%8 != 0 && addr[len(addr)-1]&(0xff>>(src%8)) != 0 {
		return ECS{}, errECSBits
	}
	var a netip.Addr
	if fam == 1 {
		var v [4]byte
		copy(v[:], addr)
		a = netip.AddrFrom4(v)
	} else {
		var v [16]byte
		copy(v[:], addr)
		a = netip.AddrFrom16(v)
	}
	return ECS{Prefix: netip.PrefixFrom(a, int(src)), Family: fam, Source: src}, nil
}

// query is a parsed DNS query. Slices point into the packet.
type query struct {
	id      uint16
	flags   uint16 // header flags word as received
	opcode  int
	qdcount int

	qname  []byte // wire form as received (case preserved), incl. final 0
	lname  [maxName]byte
	lnameN int // len of lowercased wire name in lname
	qtype  uint16
	qclass uint16
	qend   int // offset just past the question

	// EDNS
	opt      bool
	udpSize  uint16
	version  uint8
	do       bool
	ecs      ECS
	hasECS   bool
	nsid     bool
	cookie   []byte // whole COOKIE option payload (8 or 16..40 bytes)
	otherOpt bool   // options we ignore (unknown, padding…)
	err      error  // FORMERR reason, if any (set after the header parsed)
}

func (q *query) lower() []byte { return q.lname[:q.lnameN] }

// parseQuery reads a query. It returns ErrShort (drop, no answer) only when
// the header is incomplete or the message is a response; every other
// problem is recorded in q.err so the caller can answer FORMERR.
func parseQuery(q *query, msg []byte) error {
	*q = query{}
	if len(msg) < headerLen {
		return ErrShort
	}
	q.id = binary.BigEndian.Uint16(msg)
	q.flags = binary.BigEndian.Uint16(msg[2:])
	if q.flags&0x8000 != 0 {
		return errNotQuery
	}
	q.opcode = int(q.flags>>11) & 0xf
	q.qdcount = int(binary.BigEndian.Uint16(msg[4:]))
	an := int(binary.BigEndian.Uint16(msg[6:]))
	ns := int(binary.BigEndian.Uint16(msg[8:]))
	ar := int(binary.BigEndian.Uint16(msg[10:]))
	off := headerLen
	if q.qdcount > 1 {
		q.err = fmt.Errorf("%w: %d questions", errFormat, q.qdcount)
		return nil
	}
	if q.qdcount == 1 {
		n, err := q.readQName(msg, off)
		if err != nil {
			q.err = err
			return nil
		}
		off = n
		if off+4 > len(msg) {
			q.err = fmt.Errorf("%w: question truncated", errFormat)
			return nil
		}
		q.qtype = binary.BigEndian.Uint16(msg[off:])
		q.qclass = binary.BigEndian.Uint16(msg[off+2:])
		off += 4
		q.qend = off
	}
	// Answer and authority sections: skipped (queries rarely carry them;
	// UPDATE and NOTIFY do, and get NOTIMP).
	for range an + ns {
		var err error
		if off, err = skipRR(msg, off); err != nil {
			q.err = err
			return nil
		}
	}
	for range ar {
		start := off
		var err error
		if off, err = skipName(msg, off); err != nil {
			q.err = err
			return nil
		}
		if off+10 > len(msg) {
			q.err = fmt.Errorf("%w: record truncated", errFormat)
			return nil
		}
		typ := binary.BigEndian.Uint16(msg[off:])
		rdlen := int(binary.BigEndian.Uint16(msg[off+8:]))
		if off+10+rdlen > len(msg) {
			q.err = fmt.Errorf("%w: record data truncated", errFormat)
			return nil
		}
		if typ == typeOPT {
			if q.opt {
				q.err = errTwoOPT
				return nil
			}
			if off != start+1 || msg[start] != 0 {
				q.err = errOPTName
				return nil
			}
			q.opt = true
			q.udpSize = binary.BigEndian.Uint16(msg[off+2:])
			q.version = msg[off+5]
			q.do = msg[off+6]&0x80 != 0
			if err := q.readOptions(msg[off+10 : off+10+rdlen]); err != nil {
				q.err = err
				return nil
			}
		}
		off += 10 + rdlen
	}
	if off != len(msg) {
		q.err = errTrailing
	}
	return nil
}

func (q *query) readOptions(b []byte) error {
	for len(b) > 0 {
		if len(b) < 4 {
			return fmt.Errorf("%w: EDNS option truncated", errFormat)
		}
		code := binary.BigEndian.Uint16(b)
		n := int(binary.BigEndian.Uint16(b[2:]))
		if 4+n > len(b) {
			return fmt.Errorf("%w: EDNS option %d truncated", errFormat, code)
		}
		data := b[4 : 4+n]
		switch code {
		case optECS:
			if q.hasECS {
				return errTwoECS
			}
			e, err := ParseECS(data)
			if err != nil {
				return err
			}
			q.ecs, q.hasECS = e, true
		case optCookie:
			if n != 8 && (n < 16 || n > 40) {
				return errCookieLen
			}
			q.cookie = data
		case optNSID:
			q.nsid = true
		default:
			q.otherOpt = true // unknown options are ignored (RFC 6891 §6.1.2)
		}
		b = b[4+n:]
	}
	return nil
}

// readQName reads the question name, which must not be compressed (nothing
// precedes it to point at), and keeps a lowercased copy.
func (q *query) readQName(msg []byte, off int) (int, error) {
	start := off
	n := 0
	for {
		if off >= len(msg) {
			return 0, fmt.Errorf("%w: question name truncated", errNameFormat)
		}
		l := int(msg[off])
		if l&0xc0 != 0 {
			return 0, fmt.Errorf("%w: compressed or extended label in the question", errNameFormat)
		}
		if n+1+l > maxName {
			return 0, fmt.Errorf("%w: name longer than 255 octets", errNameFormat)
		}
		if off+1+l > len(msg) {
			return 0, fmt.Errorf("%w: label truncated", errNameFormat)
		}
		q.lname[n] = byte(l)
		for i := range l {
			c := msg[off+1+i]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			q.lname[n+1+i] = c
		}
		n += 1 + l
		off += 1 + l
		if l == 0 {
			break
		}
	}
	q.qname = msg[start:off]
	q.lnameN = n
	return off, nil
}

// skipName skips a possibly compressed name.
func skipName(msg []byte, off int) (int, error) {
	for {
		if off >= len(msg) {
			return 0, fmt.Errorf("%w: name truncated", errNameFormat)
		}
		l := int(msg[off])
		switch {
		case l == 0:
			return off + 1, nil
		case l&0xc0 == 0xc0:
			if off+2 > len(msg) {
				return 0, fmt.Errorf("%w: pointer truncated", errNameFormat)
			}
			return off + 2, nil
		case l&0xc0 != 0:
			return 0, fmt.Errorf("%w: extended label type", errNameFormat)
		}
		off += 1 + l
	}
}

func skipRR(msg []byte, off int) (int, error) {
	off, err := skipName(msg, off)
	if err != nil {
		return 0, err
	}
	if off+10 > len(msg) {
		return 0, fmt.Errorf("%w: record truncated", errFormat)
	}
	rdlen := int(binary.BigEndian.Uint16(msg[off+8:]))
	if off+10+rdlen > len(msg) {
		return 0, fmt.Errorf("%w: record data truncated", errFormat)
	}
	return off + 10 + rdlen, nil
}
