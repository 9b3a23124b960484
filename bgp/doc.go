// Package bgp reads and writes BGP origin data: which AS originates each
// announced prefix. The map builder uses it to group client networks by
// origin AS, and the simulator to publish a world's announcements in the
// forms real tools read. It exports no metrics.
//
// # Formats
//
// pyasn text (ParsePyASN, WritePyASN), as made by pyasn's converter from
// RouteViews dumps: one `prefix<TAB>asn` line per route, ';' comment lines.
// The reader is strict: a bad or unmasked prefix, a missing tab, an ASN that
// is not a decimal in 1..4294967295, or anything after it is an error naming
// the line. A fast path parses dotted-quad prefixes without allocating; the
// 512k-line IPv4 table of 2014, gzipped, reads in about 70 ms.
//
// MRT TABLE_DUMP_V2 RIB dumps (ParseMRT, WriteMRT; RFC 6396), as published by
// RouteViews and RIPE RIS. Each RIB_IPV4_UNICAST or RIB_IPV6_UNICAST record
// holds one prefix and one entry per peer; the reader gives one Route per
// prefix, whose origin is the last AS of the AS_PATH of the first entry. That
// is pyasn's rule, and the peers rarely disagree: on the real 2014 fragment
// it matches pyasn's table of ten days earlier for 99.5% of prefixes. An
// entry without a usable path falls through to the next one. When the path
// ends in an AS_SET (an aggregate: the origin is any of its members), the
// smallest AS of the set is taken, so that the result is deterministic where
// pyasn picks an arbitrary member; Stats.ASSets counts these, a few per ten
// thousand prefixes in real dumps. Records with no usable origin, default
// routes (as pyasn's converter drops them), and records of other types and
// subtypes are skipped and counted in Stats.Skipped.
//
// Read and ReadFile take either format, plain or gzip- or bzip2-compressed,
// telling them apart by their first bytes.
//
// # Truncation
//
// Published dumps are often cut short: a download interrupted, or a sample
// made by keeping the first megabyte of a .bz2. Such a dump is not an error:
// a reader that meets the end of its input inside an MRT record, or gets
// io.ErrUnexpectedEOF from a compressed stream, returns the routes of the
// complete records (for text, the complete lines) with Stats.Truncated set.
// A plain text file cut mid-line cannot be told from one without a final
// newline, so its last line is parsed as it stands. Every other defect is an
// error naming where it is: the line, or the MRT record number, type and
// byte offset in the decompressed stream.
//
// # gobgp
//
// MRT records and BGP path attributes are decoded and encoded with
// github.com/osrg/gobgp/v4/pkg/packet/mrt and .../packet/bgp (stdlib-only
// imports), with three deviations:
//
//   - A RIB record is framed here: its entries are walked by their 8-byte
//     headers, and gobgp is handed a copy of the record holding only the entry
//     in use. mrt.ParseBody would decode every peer's entry (47 in a 2014
//     RouteViews dump) to use one; this way parsing is 17 times faster, and
//     the framing checks that the entries fill the record exactly.
//   - gobgp's parser is fed untrusted bytes, and a panic in it is recovered
//     and turned into an error naming the record.
//   - The writer frames RIB records itself, because gobgp v4.8.0's
//     Rib.Serialize writes an AFI/SAFI pair into RIB_IPV6_UNICAST records,
//     which only RIB_GENERIC has; the prefix, the entry and its attributes
//     are still gobgp's.
//
// Reading streams: one record or line is held at a time, so a full dump of a
// million prefixes needs no more memory than a fragment. Decompression
// dominates the cost of bzip2 dumps (compress/bzip2 gives about 30 MB/s).
//
// The package has no cgo, but it is an offline tool's: the data plane (DNS
// server, edge proxy) consumes maps built from its output and must not import
// it.
package bgp
