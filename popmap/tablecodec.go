package popmap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"

	"github.com/steer-gslb/steer/internal/hugemem"
)

// The compiled form of a Table ("steer map table"): what the control
// server hands its fleet so that each DNS server decodes a map instead of
// compiling it. Compiling the 1M /24 + 200k /56 map from JSON costs a
// server ~0.6 s of CPU (parse, sort, sweep); decoding its runs costs a
// copy. The JSON map stays the interchange format: a table is derived from
// it by Compile and is a cache, never edited.
//
// Layout, little-endian:
//
//	magic    "steertb1"
//	version  int64           Meta.Version
//	entries, nets4, nets6    uint32 each
//	answers  uint32 n; n × (uint8 labels; labels × (uint8 len, bytes); int32 entry)
//	runs4    uint32 n; n × uint32 start; n × uint32 answer
//	runs6    uint32 n; n × uint64 hi; n × uint64 lo; n × uint32 answer
//	crc      uint32          CRC-32C of everything before it
//
// DecodeTable checks everything a Table relies on (runs start at 0 and
// ascend, adjacent runs differ, answers exist, labels are valid, answer 0
// is "no entry"), so a table that decodes answers exactly as the one that
// was encoded; the lookup indexes and the direct /24 table are rebuilt.
const tableMagic = "steertb1"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// IsTable reports whether data starts like an encoded Table rather than a
// JSON map.
func IsTable(data []byte) bool { return bytes.HasPrefix(data, []byte(tableMagic)) }

// WithVersion returns t with Meta.Version v: a shallow copy sharing t's
// runs, as a table is never modified, and its direct /24 table as it is
// now (a deferred one is built for each copy on its own).
func (t *Table) WithVersion(v int64) *Table {
	c := &Table{
		meta: t.meta, answers: t.answers, answerEntry: t.answerEntry, v6: t.v6,
		nets4: t.nets4, nets6: t.nets6, entries: t.entries,
	}
	c.meta.Version = v
	c.v4.starts, c.v4.ans, c.v4.index, c.v4.deferred = t.v4.starts, t.v4.ans, t.v4.index, t.v4.deferred
	c.v4.direct16.Store(t.v4.direct16.Load())
	c.v4.direct32.Store(t.v4.direct32.Load())
	return c
}

// MarshalBinary encodes t in the compiled form DecodeTable reads.
func (t *Table) MarshalBinary() ([]byte, error) {
	n := len(tableMagic) + 8 + 12 + 4 + 4 + 4 + 4
	for _, ls := range t.answers {
		n += 1 + 4
		for _, l := range ls {
			n += 1 + len(l)
		}
	}
	n += 8*len(t.v4.starts) + 20*len(t.v6.hi)
	b := make([]byte, 0, n)
	le := binary.LittleEndian
	b = append(b, tableMagic...)
	b = le.AppendUint64(b, uint64(t.meta.Version))
	b = le.AppendUint32(b, uint32(t.entries))
	b = le.AppendUint32(b, uint32(t.nets4))
	b = le.AppendUint32(b, uint32(t.nets6))
	b = le.AppendUint32(b, uint32(len(t.answers)))
	for i, ls := range t.answers {
		if len(ls) > 255 {
			return nil, fmt.Errorf("answer %d has %d labels, more than a table holds (255)", i, len(ls))
		}
		b = append(b, byte(len(ls)))
		for _, l := range ls {
			b = append(b, byte(len(l)))
			b = append(b, l...)
		}
		b = le.AppendUint32(b, uint32(t.answerEntry[i]))
	}
	b = le.AppendUint32(b, uint32(len(t.v4.starts)))
	for _, v := range t.v4.starts {
		b = le.AppendUint32(b, v)
	}
	for _, v := range t.v4.ans {
		b = le.AppendUint32(b, v)
	}
	b = le.AppendUint32(b, uint32(len(t.v6.hi)))
	for _, v := range t.v6.hi {
		b = le.AppendUint64(b, v)
	}
	for _, v := range t.v6.lo {
		b = le.AppendUint64(b, v)
	}
	for _, v := range t.v6.ans {
		b = le.AppendUint32(b, v)
	}
	return le.AppendUint32(b, crc32.Checksum(b, castagnoli)), nil
}

// WriteBinary writes t's compiled form to w.
func (t *Table) WriteBinary(w io.Writer) error {
	b, err := t.MarshalBinary()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// tableReader reads the compiled form, remembering the first error; every
// error names the offset and the field.
type tableReader struct {
	data []byte
	pos  int
	err  error
}

func (r *tableReader) fail(field, format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("map table at byte %d (%s): %s", r.pos, field, fmt.Sprintf(format, args...))
	}
}

func (r *tableReader) take(n int, field string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.data)-r.pos < n {
		r.fail(field, "truncated: %d bytes needed, %d left", n, len(r.data)-r.pos)
		return nil
	}
	b := r.data[r.pos : r.pos+n]
	r.pos += n
	return b
}

func (r *tableReader) u8(field string) int {
	if b := r.take(1, field); b != nil {
		return int(b[0])
	}
	return 0
}

func (r *tableReader) u32(field string) uint32 {
	if b := r.take(4, field); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (r *tableReader) u64(field string) uint64 {
	if b := r.take(8, field); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

// count reads a length whose elements take at least size bytes each, and
// refuses one the rest of the data cannot hold (so that a corrupt count
// cannot make it allocate gigabytes).
func (r *tableReader) count(field string, size int) int {
	n := int(r.u32(field))
	if r.err == nil && n > (len(r.data)-r.pos)/size {
		r.fail(field, "%d elements of %d bytes do not fit in the %d bytes left", n, size, len(r.data)-r.pos)
		return 0
	}
	return n
}

func (r *tableReader) u32s(n int, field string) []uint32 {
	b := r.take(4*n, field)
	if b == nil {
		return nil
	}
	out := hugemem.Make[uint32](n)
	for i := range out {
		out[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return out
}

func (r *tableReader) u64s(n int, field string) []uint64 {
	b := r.take(8*n, field)
	if b == nil {
		return nil
	}
	out := hugemem.Make[uint64](n)
	for i := range out {
		out[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	return out
}

// DecodeTable decodes a compiled table (MarshalBinary), checking it whole.
func DecodeTable(data []byte) (*Table, error) { return DecodeTableWith(data, CompileOptions{}) }

// DecodeTableWith is DecodeTable with the options of CompileWith.
func DecodeTableWith(data []byte, o CompileOptions) (*Table, error) {
	if !IsTable(data) {
		return nil, errors.New("map table: no \"steertb1\" header (not a compiled table)")
	}
	if len(data) < len(tableMagic)+4 {
		return nil, errors.New("map table: truncated")
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return nil, fmt.Errorf("map table: checksum %08x, the file says %08x (corrupt or truncated)", got, sum)
	}
	r := &tableReader{data: body, pos: len(tableMagic)}
	t := &Table{}
	t.meta.Version = int64(r.u64("version"))
	t.entries = int(r.u32("entries"))
	t.nets4 = int(r.u32("nets4"))
	t.nets6 = int(r.u32("nets6"))
	na := r.count("answers", 5)
	t.answers = make([][]Label, 0, na)
	t.answerEntry = make([]int32, 0, na)
	seen := make(map[string]int, na)
	var key []byte
	for i := range na {
		nl := r.u8("answer labels")
		var ls []Label // nil for answer 0, as Compile leaves it
		if nl > 0 {
			ls = make([]Label, 0, nl)
		}
		key = key[:0]
		for range nl {
			lb := r.take(r.u8("label length"), "label")
			if r.err != nil {
				break
			}
			if err := checkLabel(lb); err != nil {
				r.fail("label", "answer %d: %v", i, err)
				break
			}
			if slices.Contains(ls, Label(lb)) {
				r.fail("label", "answer %d: label %q twice", i, lb)
				break
			}
			ls = append(ls, Label(lb))
			key = append(key, lb...)
			key = append(key, 0)
		}
		entry := int32(r.u32("answer entry"))
		if r.err != nil {
			break
		}
		if (i == 0) != (nl == 0) {
			r.fail("answers", "answer %d has %d labels: answer 0, and only it, is \"no entry\"", i, nl)
			break
		}
		if j, dup := seen[string(key)]; dup {
			r.fail("answers", "answer %d repeats answer %d", i, j)
			break
		}
		seen[string(key)] = i
		t.answers = append(t.answers, ls)
		t.answerEntry = append(t.answerEntry, entry)
	}
	if r.err == nil && len(t.answers) == 0 {
		r.fail("answers", "none: answer 0 (\"no entry\") must be there")
	}
	n4 := r.count("runs4", 8)
	t.v4.starts = r.u32s(n4, "runs4 starts")
	t.v4.ans = r.u32s(n4, "runs4 answers")
	n6 := r.count("runs6", 20)
	t.v6.hi = r.u64s(n6, "runs6 starts")
	t.v6.lo = r.u64s(n6, "runs6 starts")
	t.v6.ans = r.u32s(n6, "runs6 answers")
	if r.err == nil && r.pos != len(body) {
		r.fail("end", "%d bytes after the IPv6 runs", len(body)-r.pos)
	}
	if r.err != nil {
		return nil, r.err
	}
	if err := t.checkRuns(); err != nil {
		return nil, fmt.Errorf("map table: %w", err)
	}
	t.buildIndexes(o)
	return t, nil
}

// checkRuns checks the run lists a lookup relies on: each family's runs
// start at address 0, ascend strictly, name an existing answer, and differ
// from their neighbour (maximal runs: the scope rule needs it).
func (t *Table) checkRuns() error {
	if t.runsValid() {
		return nil
	}
	return t.runsError()
}

// runsValid is checkRuns' test as plain loops (a 1.2M-network table has
// 2.4M runs); runsError finds and names the first problem.
func (t *Table) runsValid() bool {
	na := uint32(len(t.answers))
	s, a := t.v4.starts, t.v4.ans
	if len(s) == 0 || s[0] != 0 || a[0] >= na {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i-1] >= s[i] || a[i] >= na || a[i] == a[i-1] {
			return false
		}
	}
	hi, lo, a6 := t.v6.hi, t.v6.lo, t.v6.ans
	if len(hi) == 0 || hi[0] != 0 || lo[0] != 0 || a6[0] >= na {
		return false
	}
	for i := 1; i < len(hi); i++ {
		if hi[i-1] > hi[i] || (hi[i-1] == hi[i] && lo[i-1] >= lo[i]) || a6[i] >= na || a6[i] == a6[i-1] {
			return false
		}
	}
	return true
}

func (t *Table) runsError() error {
	na := uint32(len(t.answers))
	width := map[string]int{"IPv4": 32, "IPv6": 128}
	check := func(family string, n int, start func(i int) u128, ans []uint32) error {
		if n == 0 {
			return fmt.Errorf("no %s runs (the first must start at 0)", family)
		}
		for i := range n {
			switch {
			case ans[i] >= na:
				return fmt.Errorf("%s run %d: answer %d of %d", family, i, ans[i], na)
			case i == 0 && start(0) != (u128{}):
				return fmt.Errorf("%s run 0 starts at %v, not at 0", family, start(0).addr(width[family]))
			case i > 0 && !start(i-1).less(start(i)):
				return fmt.Errorf("%s run %d does not start after run %d", family, i, i-1)
			case i > 0 && ans[i] == ans[i-1]:
				return fmt.Errorf("%s runs %d and %d have the same answer (runs must be maximal)", family, i-1, i)
			}
		}
		return nil
	}
	if err := check("IPv4", len(t.v4.starts), func(i int) u128 { return u128{0, uint64(t.v4.starts[i])} }, t.v4.ans); err != nil {
		return err
	}
	if err := check("IPv6", len(t.v6.hi), func(i int) u128 { return u128{t.v6.hi[i], t.v6.lo[i]} }, t.v6.ans); err != nil {
		return err
	}
	return errors.New("runs invalid") // runsValid and runsError disagree: a bug
}

// Map rebuilds a Map that compiles to a table answering as t does: one
// entry per answer, holding the fewest CIDR blocks that cover its runs.
// The networks are t's merged runs, not the entries t was compiled from
// (a compiled table keeps answers, not entries), so a map decoded from a
// table explains its answers by those blocks.
func (t *Table) Map() *Map {
	m := &Map{Meta: t.meta, Entries: make([]Entry, len(t.answers)-1)}
	for i := range m.Entries {
		m.Entries[i].Labels = t.answers[i+1]
	}
	add := func(runs []run, width int) {
		maxAddr := u128{0, 1<<32 - 1}
		if width == 128 {
			maxAddr = u128{^uint64(0), ^uint64(0)}
		}
		for i, r := range runs {
			if r.ans == NoAnswer {
				continue
			}
			end := maxAddr
			if i+1 < len(runs) {
				end = runs[i+1].start.sub1()
			}
			e := &m.Entries[r.ans-1]
			e.Networks = append(e.Networks, rangeToPrefixes(r.start, end, width)...)
		}
	}
	add(t.runs4(), 32)
	add(t.runs6(), 128)
	m.Entries = slices.DeleteFunc(m.Entries, func(e Entry) bool { return len(e.Networks) == 0 })
	return m
}
