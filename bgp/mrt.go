package bgp

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"slices"
	"time"

	gobgp "github.com/osrg/gobgp/v4/pkg/packet/bgp"
	"github.com/osrg/gobgp/v4/pkg/packet/mrt"
)

const mrtHeaderLen = mrt.MRT_COMMON_HEADER_LEN

// maxMRTRecord bounds the body of a TABLE_DUMP_V2 record that is parsed (the
// records that are skipped are streamed past, whatever their length). The
// largest RIB records of full RouteViews and RIS dumps are a few hundred KiB
// (one entry per peer); a length beyond this is damage, not data.
const maxMRTRecord = 16 << 20

// ParseMRT reads an MRT TABLE_DUMP_V2 RIB dump (RFC 6396) and calls fn once
// per prefix, with the origin AS of its first RIB entry.
//
// The dump must start with a PEER_INDEX_TABLE; RIB_IPV4_UNICAST and
// RIB_IPV6_UNICAST records give routes. Records of other TABLE_DUMP_V2
// subtypes (multicast, RIB_GENERIC, ADD-PATH, GEO_PEER_TABLE) and of other
// MRT types (TABLE_DUMP, BGP4MP, …) are skipped and counted in
// Stats.Skipped; an MRT type or TABLE_DUMP_V2 subtype that RFC 6396 and its
// updates do not define is an error.
//
// The origin is the last AS of the AS_PATH (AS_CONFED_* segments, which
// only appear at its start, are ignored). When the path ends in an AS_SET,
// as aggregates do, the smallest AS of the set is taken and counted in
// Stats.ASSets. A RIB entry without an AS_PATH, or with an empty one, or
// whose origin would be AS 0, gives no origin: the next entry of the record
// is tried, and a record where no entry gives one is skipped and counted.
// Default routes (0.0.0.0/0, ::/0) are skipped and counted too, as pyasn's
// converter does: they say nothing about who holds an address.
//
// A dump cut short, inside a record or by io.ErrUnexpectedEOF from the
// reader (a cut compressed stream), is not an error: ParseMRT returns the
// routes of the complete records with Stats.Truncated set. Any other damage
// is an error naming the record (1-based), its subtype and its byte offset
// in the (decompressed) stream. If fn returns an error, ParseMRT stops and
// returns that error unchanged.
func ParseMRT(r io.Reader, fn func(Route) error) (Stats, error) {
	st := Stats{Format: FormatMRT}
	br := bufio.NewReaderSize(r, bufSize)
	var (
		hdr   [mrtHeaderLen]byte
		body  []byte
		off   int64
		peers = -1 // no PEER_INDEX_TABLE yet
		rp    ribParser
	)
	for rec := 1; ; rec++ {
		start := off
		n, err := io.ReadFull(br, hdr[:])
		switch {
		case err == nil:
		case errors.Is(err, io.EOF) && n == 0:
			return st, nil
		case isCut(err):
			st.Truncated = true
			return st, nil
		default:
			return st, fmt.Errorf("mrt record %d at byte %d: reading header: %w", rec, start, err)
		}
		// Not mrt.ParseHeader: it wants the 4 extra bytes of the *_ET types
		// in the header, where RFC 6396 §2 counts them in the body.
		h := &mrt.MRTHeader{
			Timestamp: binary.BigEndian.Uint32(hdr[0:]),
			Type:      mrt.MRTType(binary.BigEndian.Uint16(hdr[4:])),
			SubType:   binary.BigEndian.Uint16(hdr[6:]),
			Len:       binary.BigEndian.Uint32(hdr[8:]),
		}
		where := func() string {
			return fmt.Sprintf("mrt record %d (%s) at byte %d", rec, recordName(h.Type, h.SubType), start)
		}
		parse, err := classify(h.Type, h.SubType)
		if err != nil {
			return st, fmt.Errorf("%s: %w", where(), err)
		}
		if !parse {
			d, err := br.Discard(int(h.Len))
			if err != nil {
				if errors.Is(err, io.EOF) || isCut(err) {
					st.Truncated = true
					return st, nil
				}
				return st, fmt.Errorf("%s: reading body: %w", where(), err)
			}
			off += mrtHeaderLen + int64(d)
			st.Records++
			st.Skipped++
			continue
		}
		if h.Len > maxMRTRecord {
			return st, fmt.Errorf("%s: length %d exceeds the limit of %d bytes", where(), h.Len, maxMRTRecord)
		}
		body, err = readBody(br, body, int(h.Len))
		if err != nil {
			if isCut(err) {
				st.Truncated = true
				return st, nil
			}
			return st, fmt.Errorf("%s: reading body: %w", where(), err)
		}
		off += mrtHeaderLen + int64(h.Len)
		st.Records++

		if h.SubType == uint16(mrt.PEER_INDEX_TABLE) {
			msg, err := parseBody(body, h)
			if err != nil {
				return st, fmt.Errorf("%s: %w", where(), err)
			}
			pit, ok := msg.Body.(*mrt.PeerIndexTable)
			if !ok {
				return st, fmt.Errorf("%s: unexpected body %T", where(), msg.Body)
			}
			peers = len(pit.Peers)
			st.Peers = peers
			st.Time = h.GetTime().UTC()
			continue
		}
		if peers < 0 {
			return st, fmt.Errorf("%s: RIB record before the PEER_INDEX_TABLE", where())
		}
		rt, ok, asSet, err := rp.route(h, body, peers)
		if err != nil {
			return st, fmt.Errorf("%s: %w", where(), err)
		}
		if !ok {
			st.Skipped++
			continue
		}
		if err := fn(rt); err != nil {
			return st, err
		}
		st.Routes++
		if asSet {
			st.ASSets++
		}
	}
}

// ribParser turns RIB_IPV4_UNICAST and RIB_IPV6_UNICAST records into routes.
// A record holds one prefix and one entry per peer that has a path for it
// (RFC 6396 §4.3.2), dozens in a full dump, and only the first entry with an
// origin is needed. mrt.ParseBody decodes every entry, about a dozen
// allocations each, so the parser frames the entries itself (each is an
// 8-byte header and its attributes) and hands gobgp a copy of the record with
// only the entry it is about to use. Framing also checks that the entries
// fill the record exactly, which catches a damaged length early.
type ribParser struct {
	ends    []int  // end offset of each entry in the record
	scratch []byte // the record with one entry, for gobgp
}

// route returns the route of one RIB record: its prefix and the origin AS of
// the first entry that has one. ok is false if no entry has one, or for a
// default route. asSet tells that the origin came from a trailing AS_SET.
func (rp *ribParser) route(h *mrt.MRTHeader, body []byte, peers int) (r Route, ok, asSet bool, err error) {
	// Sequence number (4), prefix length in bits (1), prefix bytes, entry count (2).
	if len(body) < 5 {
		return Route{}, false, false, fmt.Errorf("record of %d bytes is too short for a prefix", len(body))
	}
	headLen := 5 + (int(body[4])+7)/8
	if len(body) < headLen+2 {
		return Route{}, false, false, fmt.Errorf("record of %d bytes is too short for a /%d prefix and an entry count", len(body), body[4])
	}
	count := int(binary.BigEndian.Uint16(body[headLen:]))
	start := headLen + 2
	rp.ends = rp.ends[:0]
	for i, off := 0, start; i < count; i++ {
		if len(body)-off < 8 {
			return Route{}, false, false, fmt.Errorf("entry %d of %d: header runs past the end of the record (byte %d of %d)", i, count, off, len(body))
		}
		end := off + 8 + int(binary.BigEndian.Uint16(body[off+6:]))
		if end > len(body) {
			return Route{}, false, false, fmt.Errorf("entry %d of %d: attributes run past the end of the record (%d > %d bytes)", i, count, end, len(body))
		}
		rp.ends = append(rp.ends, end)
		off = end
	}
	end := start
	if count > 0 {
		end = rp.ends[count-1]
	}
	if end != len(body) {
		return Route{}, false, false, fmt.Errorf("%d bytes after the last of %d entries", len(body)-end, count)
	}
	if count == 0 {
		return Route{}, false, false, nil
	}
	for i, off := 0, start; i < count; i++ {
		rp.scratch = append(append(append(rp.scratch[:0], body[:headLen]...), 0, 1), body[off:rp.ends[i]]...)
		off = rp.ends[i]
		h1 := *h
		h1.Len = uint32(len(rp.scratch))
		msg, err := parseBody(rp.scratch, &h1)
		if err != nil {
			return Route{}, false, false, fmt.Errorf("entry %d: %w", i, err)
		}
		rib, isRib := msg.Body.(*mrt.Rib)
		if !isRib || len(rib.Entries) != 1 {
			return Route{}, false, false, fmt.Errorf("entry %d: unexpected body %T", i, msg.Body)
		}
		nlri, isIP := rib.Prefix.(*gobgp.IPAddrPrefix)
		if !isIP || !nlri.Prefix.IsValid() {
			return Route{}, false, false, fmt.Errorf("prefix is %v, not an IP prefix", rib.Prefix)
		}
		p := nlri.Prefix.Masked() // gobgp masks it already; be sure
		if p.Bits() == 0 {
			return Route{}, false, false, nil
		}
		e := rib.Entries[0]
		if int(e.PeerIndex) >= peers {
			return Route{}, false, false, fmt.Errorf("prefix %s: entry %d: peer index %d out of range (%d peers)", p, i, e.PeerIndex, peers)
		}
		if asn, set := originAS(e.PathAttributes); asn != 0 {
			return Route{Prefix: p, ASN: asn}, true, set, nil
		}
	}
	return Route{}, false, false, nil
}

// readBody reads n bytes into buf, growing it as the bytes arrive rather than
// up front, so that a damaged length costs no more memory than the input has.
func readBody(r io.Reader, buf []byte, n int) ([]byte, error) {
	buf = buf[:0]
	for len(buf) < n {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(n-len(buf), max(cap(buf), 4096)))
		}
		m, err := io.ReadFull(r, buf[len(buf):min(n, cap(buf))])
		buf = buf[:len(buf)+m]
		if err != nil {
			if errors.Is(err, io.EOF) { // inside the record: it was cut
				err = io.ErrUnexpectedEOF
			}
			return buf, err
		}
	}
	return buf, nil
}

// parseBody is mrt.ParseBody, with a panic in gobgp turned into an error:
// the parser is fed untrusted bytes, and a malformed record must not take the
// process down.
func parseBody(body []byte, h *mrt.MRTHeader) (msg *mrt.MRTMessage, err error) {
	defer func() {
		if p := recover(); p != nil {
			msg, err = nil, fmt.Errorf("malformed record: gobgp parser panicked: %v", p)
		}
	}()
	return mrtParseBody(body, h)
}

// mrtParseBody is mrt.ParseBody; a test makes it panic.
var mrtParseBody = mrt.ParseBody

// classify reports whether a record is one ParseMRT parses (true), skips
// (false), or cannot be MRT at all (error).
func classify(t mrt.MRTType, sub uint16) (bool, error) {
	switch t {
	case mrt.TABLE_DUMPv2:
		switch mrt.MRTSubTypeTableDumpv2(sub) {
		case mrt.PEER_INDEX_TABLE, mrt.RIB_IPV4_UNICAST, mrt.RIB_IPV6_UNICAST:
			return true, nil
		case mrt.RIB_IPV4_MULTICAST, mrt.RIB_IPV6_MULTICAST, mrt.RIB_GENERIC, mrt.GEO_PEER_TABLE,
			mrt.RIB_IPV4_UNICAST_ADDPATH, mrt.RIB_IPV4_MULTICAST_ADDPATH, mrt.RIB_IPV6_UNICAST_ADDPATH,
			mrt.RIB_IPV6_MULTICAST_ADDPATH, mrt.RIB_GENERIC_ADDPATH:
			return false, nil
		}
		return false, fmt.Errorf("unknown TABLE_DUMP_V2 subtype %d", sub)
	case mrt.NULL, mrt.START, mrt.DIE, mrt.I_AM_DEAD, mrt.PEER_DOWN, mrt.BGP, mrt.RIP, mrt.IDRP,
		mrt.RIPNG, mrt.BGP4PLUS, mrt.BGP4PLUS01, mrt.OSPFv2, mrt.TABLE_DUMP, mrt.BGP4MP, mrt.BGP4MP_ET,
		mrt.ISIS, mrt.ISIS_ET, mrt.OSPFv3, mrt.OSPFv3_ET:
		return false, nil
	}
	return false, fmt.Errorf("unknown MRT type %d (not an MRT dump?)", t)
}

// recordName names a record's type for error messages.
func recordName(t mrt.MRTType, sub uint16) string {
	if t != mrt.TABLE_DUMPv2 {
		return fmt.Sprintf("type %d subtype %d", t, sub)
	}
	switch mrt.MRTSubTypeTableDumpv2(sub) {
	case mrt.PEER_INDEX_TABLE:
		return "PEER_INDEX_TABLE"
	case mrt.RIB_IPV4_UNICAST:
		return "RIB_IPV4_UNICAST"
	case mrt.RIB_IPV6_UNICAST:
		return "RIB_IPV6_UNICAST"
	}
	return fmt.Sprintf("TABLE_DUMP_V2 subtype %d", sub)
}

// originAS returns the origin AS of a path, or 0 if it has none: the last AS
// of the last AS_SEQUENCE, or the smallest of a trailing AS_SET.
func originAS(attrs []gobgp.PathAttributeInterface) (asn uint32, set bool) {
	for _, a := range attrs {
		path, ok := a.(*gobgp.PathAttributeAsPath)
		if !ok {
			continue
		}
		for _, seg := range slices.Backward(path.Value) {
			switch seg.GetType() {
			case gobgp.BGP_ASPATH_ATTR_TYPE_SEQ:
				as := seg.GetAS()
				if len(as) == 0 {
					return 0, false
				}
				return as[len(as)-1], false
			case gobgp.BGP_ASPATH_ATTR_TYPE_SET:
				as := seg.GetAS()
				if len(as) == 0 {
					return 0, false
				}
				return slices.Min(as), true
			}
		}
		return 0, false
	}
	return 0, false
}

// WriteMRT writes routes as a TABLE_DUMP_V2 RIB dump as one collector peer
// would have it: a PEER_INDEX_TABLE with that one peer (peerAS, peerAddr,
// 4-byte ASNs), then one RIB_IPV4_UNICAST or RIB_IPV6_UNICAST record per
// route, in the order given, with sequence numbers 0, 1, 2, … Each record has
// one RIB entry whose path attributes are ORIGIN IGP, AS_PATH [peerAS origin]
// (an AS_SEQUENCE of 4-byte ASNs; just [origin] when the peer is the origin)
// and the next hop as RouteViews writes it: NEXT_HOP for an IPv4 route from an
// IPv4 peer, otherwise an MRT-abbreviated MP_REACH_NLRI (RFC 6396 §4.3.4)
// holding only peerAddr (IPv4-mapped for an IPv6 route from an IPv4 peer).
// Every record carries the timestamp t.
//
// A route that fails Validate is an error naming its index; the records
// before it have been written. The caller should not repeat a prefix.
func WriteMRT(w io.Writer, routes []Route, t time.Time, peerAS uint32, peerAddr netip.Addr) error {
	peerAddr = peerAddr.Unmap()
	switch {
	case peerAS == 0:
		return errors.New("writing mrt: peer AS 0 is reserved")
	case !peerAddr.IsValid() || peerAddr.Zone() != "":
		return fmt.Errorf("writing mrt: bad peer address %q", peerAddr)
	case t.Unix() < 0 || t.Unix() > math.MaxUint32:
		return fmt.Errorf("writing mrt: time %v does not fit MRT's 32-bit seconds", t)
	case uint64(len(routes)) > math.MaxUint32:
		return fmt.Errorf("writing mrt: %d routes do not fit MRT's 32-bit sequence numbers", len(routes))
	}
	bw := bufio.NewWriterSize(w, bufSize)
	// The collector and the peer need a 4-byte BGP identifier; for an IPv6
	// peer there is no natural one, and 0.0.0.0 is what such dumps show.
	bgpID := netip.IPv4Unspecified()
	if peerAddr.Is4() {
		bgpID = peerAddr
	}
	peer := mrt.NewPeer(bgpID, peerAddr, peerAS, true)
	pit := mrt.NewPeerIndexTable(bgpID, "", []*mrt.Peer{peer})
	if err := writeMRTRecord(bw, t, mrt.PEER_INDEX_TABLE, pit); err != nil {
		return fmt.Errorf("writing mrt: PEER_INDEX_TABLE: %w", err)
	}
	for i, r := range routes {
		if err := r.Validate(); err != nil {
			return fmt.Errorf("writing mrt: route %d: %w", i, err)
		}
		if err := writeRIB(bw, t, uint32(i), r, peerAS, peerAddr); err != nil {
			return fmt.Errorf("writing mrt: route %d (%v): %w", i, r, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing mrt: %w", err)
	}
	return nil
}

func writeRIB(w *bufio.Writer, t time.Time, seq uint32, r Route, peerAS uint32, peerAddr netip.Addr) error {
	nlri, err := gobgp.NewIPAddrPrefix(r.Prefix)
	if err != nil {
		return err
	}
	path := []uint32{peerAS, r.ASN}
	if peerAS == r.ASN {
		path = path[1:]
	}
	attrs := []gobgp.PathAttributeInterface{
		gobgp.NewPathAttributeOrigin(gobgp.BGP_ORIGIN_ATTR_TYPE_IGP),
		gobgp.NewPathAttributeAsPath([]gobgp.AsPathParamInterface{
			gobgp.NewAs4PathParam(gobgp.BGP_ASPATH_ATTR_TYPE_SEQ, path),
		}),
	}
	sub := mrt.RIB_IPV4_UNICAST
	family := gobgp.RF_IPv4_UC
	if r.Prefix.Addr().Is6() {
		sub, family = mrt.RIB_IPV6_UNICAST, gobgp.RF_IPv6_UC
	}
	if family == gobgp.RF_IPv4_UC && peerAddr.Is4() {
		nh, err := gobgp.NewPathAttributeNextHop(peerAddr)
		if err != nil {
			return err
		}
		attrs = append(attrs, nh)
	} else {
		mp, err := gobgp.NewPathAttributeMpReachNLRI(family, []gobgp.PathNLRI{{NLRI: nlri}}, peerAddr)
		if err != nil {
			return err
		}
		attrs = append(attrs, mp)
	}
	entry := mrt.NewRibEntry(0, uint32(t.Unix()), 0, attrs, false)
	return writeMRTRecord(w, t, sub, &ribBody{seq: seq, prefix: nlri, entry: entry})
}

func writeMRTRecord(w *bufio.Writer, t time.Time, sub mrt.MRTSubTypeTableDumpv2, body mrt.Body) error {
	msg, err := mrt.NewMRTMessage(t, mrt.TABLE_DUMPv2, sub, body)
	if err != nil {
		return err
	}
	b, err := msg.Serialize()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// ribBody is a RIB_IPV4_UNICAST or RIB_IPV6_UNICAST body with one entry:
// sequence number, prefix, entry count, entry (RFC 6396 §4.3.2). It stands in
// for mrt.Rib because gobgp v4.8.0's Rib.Serialize writes an AFI/SAFI pair
// for RF_IPv6_UC, which only RIB_GENERIC has, so that its own parser (and
// every other) misreads the record. The prefix and the entry are still
// gobgp's.
type ribBody struct {
	seq    uint32
	prefix *gobgp.IPAddrPrefix
	entry  *mrt.RibEntry
}

func (b *ribBody) Serialize() ([]byte, error) {
	pb, err := b.prefix.Serialize()
	if err != nil {
		return nil, err
	}
	eb, err := b.entry.Serialize()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 0, 4+len(pb)+2+len(eb))
	buf = binary.BigEndian.AppendUint32(buf, b.seq)
	buf = append(buf, pb...)
	buf = binary.BigEndian.AppendUint16(buf, 1)
	return append(buf, eb...), nil
}
