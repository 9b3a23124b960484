package store

import (
	"encoding/binary"
	"math"

	"github.com/zeebo/xxh3"

	"github.com/steer-gslb/steer/rum"
)

// BeaconID is a beacon's identity: the 64-bit xxh3 hash (seed 0, stable
// across processes and machines) of a binary canonical form of exactly the
// values rum.AppendBeacon writes (v, client subnet, agent, dns_test and
// every sample's instant, target, probe, RTT bits and served_by), so two
// beacons have the same ID when AppendBeacon writes the same bytes for them
// (TestBeaconIDMatchesAppendBeacon). The binary form costs a tenth of
// AppendBeacon's text (package doc). Received and Source are delivery
// facts, not part of the beacon, and do not enter the ID.
func BeaconID(b *rum.Beacon) uint64 {
	var buf [2048]byte
	return xxh3.Hash(appendCanonical(buf[:0], b))
}

// appendCanonical appends b's binary canonical form. The client subnet is
// written as its network key when it has one (so a v4-mapped prefix is its
// IPv4 prefix, as stored), else as address bytes and length.
func appendCanonical(dst []byte, b *rum.Beacon) []byte {
	dst = binary.AppendUvarint(dst, uint64(b.V))
	if k, err := NetworkKey(b.ClientSubnet); err == nil {
		dst = append(dst, 1)
		dst = binary.LittleEndian.AppendUint64(dst, k)
	} else if b.ClientSubnet.IsValid() {
		dst = append(dst, 2)
		dst = appendStr(dst, b.ClientSubnet.String())
	} else {
		dst = append(dst, 0)
	}
	dst = appendStr(dst, b.Agent.Kind)
	dst = appendStr(dst, b.Agent.Platform)
	dst = appendStr(dst, b.Agent.Timer)
	dst = appendStr(dst, b.DNSTest)
	dst = binary.AppendUvarint(dst, uint64(len(b.Samples)))
	for i := range b.Samples {
		s := &b.Samples[i]
		dst = binary.LittleEndian.AppendUint64(dst, uint64(s.TS.Unix()))
		dst = binary.LittleEndian.AppendUint32(dst, uint32(s.TS.Nanosecond()))
		dst = appendStr(dst, s.Target)
		dst = append(dst, byte(s.Probe))
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(s.RTTms))
		dst = appendStr(dst, s.ServedBy)
	}
	return dst
}

func appendStr(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// BeaconIDBuf is BeaconID with a caller's buffer for the canonical form
// (for writers that hash many beacons); it returns the buffer to reuse.
func BeaconIDBuf(buf []byte, b *rum.Beacon) (uint64, []byte) {
	buf = appendCanonical(buf[:0], b)
	return xxh3.Hash(buf), buf
}
