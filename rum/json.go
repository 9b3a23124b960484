package rum

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"unicode/utf8"
)

// Error is a malformed beacon or log line. Field is the JSON path of the
// offending value ("samples[3].rtt_ms", "agent.kind"), or "" when the
// problem is the object as a whole. Offset is the byte offset in the input of
// a JSON syntax error, or -1 for a well-formed value that breaks a rule.
//
// Error() reads `samples[3].rtt_ms: not a number`, or for syntax errors
// `samples[3]: offset 57: want ',' or '}', got 'x'`. A collector can count
// rejects by Field without parsing the text.
type Error struct {
	Field  string
	Offset int
	Msg    string
}

func (e *Error) Error() string {
	var b []byte
	if e.Field != "" {
		b = append(b, e.Field...)
		b = append(b, ": "...)
	}
	if e.Offset >= 0 {
		b = append(b, "offset "...)
		b = strconv.AppendInt(b, int64(e.Offset), 10)
		b = append(b, ": "...)
	}
	b = append(b, e.Msg...)
	return string(b)
}

// where tells the parser which object it is in, to name fields in errors.
type where uint8

const (
	inTop where = iota
	inAgent
	inSample
)

// parser is a strict JSON reader specialised to the two RUM schemas. It
// reads members in a loop with a switch on the key (no reflection, no
// closures, no intermediate map), keeps strings as sub-slices of the input
// unless they contain escapes, and builds error paths only on failure.
type parser struct {
	data    []byte
	pos     int
	where   where
	idx     int // sample index while where == inSample
	unknown int // unknown fields skipped (Bulk mode)
	days    dayCache
	// scratch holds unescaped string bytes; strings without escapes (the
	// normal case) never touch it.
	scratch []byte
}

// path names field in the current object for an error.
func (p *parser) path(field string) string {
	switch p.where {
	case inAgent:
		if field == "" {
			return "agent"
		}
		return "agent." + field
	case inSample:
		if field == "" {
			return "samples[" + strconv.Itoa(p.idx) + "]"
		}
		return "samples[" + strconv.Itoa(p.idx) + "]." + field
	}
	return field
}

// fieldErr reports a well-formed value that breaks a rule.
func (p *parser) fieldErr(field, format string, args ...any) error {
	return &Error{Field: p.path(field), Offset: -1, Msg: fmt.Sprintf(format, args...)}
}

// syntaxErr reports malformed JSON at the current offset.
func (p *parser) syntaxErr(field, format string, args ...any) error {
	return &Error{Field: p.path(field), Offset: p.pos, Msg: fmt.Sprintf(format, args...)}
}

// got describes the byte at the current position for a syntax error.
func (p *parser) got() string {
	if p.pos >= len(p.data) {
		return "end of input"
	}
	return quoteByte(p.data[p.pos])
}

// peek skips white space and returns the next byte, or 0 at the end (or
// at a NUL byte, which is never valid where peek is used).
func (p *parser) peek() byte {
	// Compact JSON has no white space: test for that first, in a form
	// small enough to inline.
	if p.pos < len(p.data) && p.data[p.pos] > ' ' {
		return p.data[p.pos]
	}
	return p.peekSpace()
}

// peekSpace is peek's loop over white space.
func (p *parser) peekSpace() byte {
	for p.pos < len(p.data) {
		switch c := p.data[p.pos]; c {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return c
		}
	}
	return 0
}

// nextMember moves to the next member of the object whose '{' has been
// consumed: it consumes the ',' before it (unless first) or the closing '}'
// and returns the key with its ':' consumed, or ok == false after the '}'.
// The key may alias p.scratch: use it before reading the value.
func (p *parser) nextMember(first bool) (key []byte, ok bool, err error) {
	c := p.peek()
	switch {
	case c == '}':
		p.pos++
		return nil, false, nil
	case first:
	case c == ',':
		p.pos++
		c = p.peek()
	default:
		return nil, false, p.syntaxErr("", "want ',' or '}', got %s", p.got())
	}
	if c != '"' {
		return nil, false, p.syntaxErr("", "want a field name, got %s", p.got())
	}
	key, err = p.str("")
	if err != nil {
		return nil, false, err
	}
	if p.peek() != ':' {
		return nil, false, p.syntaxErr("", "want ':' after field name, got %s", p.got())
	}
	p.pos++
	return key, true, nil
}

// nextElem moves to the next element of the array whose '[' has been
// consumed, like nextMember; field names the array in errors.
func (p *parser) nextElem(field string, first bool) (bool, error) {
	c := p.peek()
	switch {
	case c == ']':
		p.pos++
		return false, nil
	case first:
		return true, nil
	case c == ',':
		p.pos++
		if p.peek() == ']' {
			return false, p.syntaxErr(field, "trailing ',' in array")
		}
		return true, nil
	}
	return false, p.syntaxErr(field, "want ',' or ']', got %s", p.got())
}

// end checks that nothing but white space follows the top-level object.
func (p *parser) end(what string) error {
	p.where = inTop
	if p.peek(); p.pos < len(p.data) { // not peek() != 0: the data may hold a NUL
		return p.syntaxErr("", "trailing data after the %s object", what)
	}
	return nil
}

// strValue reads a string value for field, or reports "not a string".
func (p *parser) strValue(field string) ([]byte, error) {
	if p.peek() != '"' {
		return nil, p.fieldErr(field, "not a string")
	}
	return p.str(field)
}

// str reads the JSON string at p.pos (which is '"'). The result aliases
// p.data when the string has no escapes, else p.scratch; either way it is
// valid until the next call. UTF-8 is not checked here: every stored field
// has an ASCII-only syntax checked by its own rule.
func (p *parser) str(field string) ([]byte, error) {
	d := p.data
	start := p.pos + 1 // after the opening quote
	// Skip the ordinary bytes eight at a time, then one table look-up
	// each for the last few, in locals (not p.pos, which the compiler
	// would store on every byte); the loop below deals with whatever
	// stopped it.
	i := start
	for i+8 <= len(d) {
		if m := strStopMask(binary.LittleEndian.Uint64(d[i:])); m != 0 {
			i += bits.TrailingZeros64(m) >> 3
			goto stopped
		}
		i += 8
	}
	for i < len(d) && !strStop[d[i]] {
		i++
	}
stopped:
	if i < len(d) && d[i] == '"' {
		p.pos = i + 1
		return d[start:i], nil
	}
	p.pos = i
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		if c == '"' {
			p.pos++
			return p.data[start : p.pos-1], nil
		}
		if c == '\\' {
			return p.strEscaped(field, start)
		}
		if c < 0x20 {
			return nil, p.syntaxErr(field, "control character %#02x in string", c)
		}
		p.pos++
	}
	return nil, p.syntaxErr(field, "unterminated string")
}

// strEscaped finishes a string that has escapes, from p.pos (at a '\').
func (p *parser) strEscaped(field string, start int) ([]byte, error) {
	p.scratch = append(p.scratch[:0], p.data[start:p.pos]...)
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			return p.scratch, nil
		case c < 0x20:
			return nil, p.syntaxErr(field, "control character %#02x in string", c)
		case c != '\\':
			p.scratch = append(p.scratch, c)
			p.pos++
			continue
		}
		if p.pos+1 >= len(p.data) {
			break
		}
		e := p.data[p.pos+1]
		switch e {
		case '"', '\\', '/':
			p.scratch = append(p.scratch, e)
		case 'b':
			p.scratch = append(p.scratch, '\b')
		case 'f':
			p.scratch = append(p.scratch, '\f')
		case 'n':
			p.scratch = append(p.scratch, '\n')
		case 'r':
			p.scratch = append(p.scratch, '\r')
		case 't':
			p.scratch = append(p.scratch, '\t')
		case 'u':
			r, ok := hex4(p.data[p.pos+2:])
			if !ok {
				return nil, p.syntaxErr(field, `bad \u escape`)
			}
			p.pos += 6
			if utf16IsSurrogate(r) {
				// A high surrogate followed by an escaped low one is
				// one character; any other surrogate becomes U+FFFD,
				// as encoding/json does.
				if r < 0xDC00 && p.pos+6 <= len(p.data) && p.data[p.pos] == '\\' && p.data[p.pos+1] == 'u' {
					if lo, ok := hex4(p.data[p.pos+2:]); ok && lo >= 0xDC00 && lo < 0xE000 {
						p.pos += 6
						p.scratch = utf8.AppendRune(p.scratch, 0x10000+(r-0xD800)<<10+(lo-0xDC00))
						continue
					}
				}
				r = utf8.RuneError
			}
			p.scratch = utf8.AppendRune(p.scratch, r)
			continue
		default:
			return nil, p.syntaxErr(field, `bad escape \%c`, e)
		}
		p.pos += 2
	}
	return nil, p.syntaxErr(field, "unterminated string")
}

// strStop marks the bytes that end the fast scan of a string: '"', '\\'
// and control characters.
var strStop = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// strStopMask is strStop for the eight bytes of x (little-endian: the
// first byte is the lowest): the result's lowest set bit is the high bit of
// the first byte that is '"', '\\' or a control character, and it is zero
// when there is none. (Bits above the first stop byte may be false
// positives, from the borrow of the subtractions; they are never used.)
func strStopMask(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q := x ^ (ones * '"')
	b := x ^ (ones * '\\')
	return ((q-ones)&^q | (b-ones)&^b | (x-ones*0x20)&^x) & highs
}

func utf16IsSurrogate(r rune) bool { return r >= 0xD800 && r < 0xE000 }

// hex4 decodes the four hex digits at the start of b.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// number reads a JSON number token for field, or reports "not a number"
// when the value is of another type. The token follows the JSON grammar
// exactly: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *parser) number(field string) ([]byte, error) {
	c := p.peek()
	if c != '-' && (c < '0' || c > '9') {
		return nil, p.fieldErr(field, "not a number")
	}
	start := p.pos
	d := p.data
	i := p.pos
	if d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	default:
		p.pos = i
		return nil, p.syntaxErr(field, "invalid number")
	}
	if i < len(d) && d[i] == '.' {
		i++
		j := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		if i == j {
			p.pos = i
			return nil, p.syntaxErr(field, "invalid number: no digits after '.'")
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		if i == j {
			p.pos = i
			return nil, p.syntaxErr(field, "invalid number: no digits in exponent")
		}
	}
	p.pos = i
	// "01", "0x10", "1.5.2", "2e5e": a number runs into more number-like
	// bytes. Report the number, not the unexpected byte after it.
	if i < len(d) {
		if c := d[i]; c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.' || c == '+' || c == '-' {
			return nil, p.syntaxErr(field, "invalid number")
		}
	}
	return d[start:i], nil
}

// float reads a JSON number as a finite float64.
func (p *parser) float(field string) (float64, error) {
	tok, err := p.number(field)
	if err != nil {
		return 0, err
	}
	if v, ok := fastFloat(tok); ok {
		return v, nil
	}
	// The token is valid JSON, hence valid Go syntax: the only possible
	// error is ErrRange, for overflow (underflow rounds to 0 silently).
	v, err := strconv.ParseFloat(string(tok), 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, p.fieldErr(field, "%s overflows a float64", tok)
	}
	return v, nil
}

var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// fastFloat converts the usual RTT token ("23.4", "-0", "131") without an
// exponent and with at most 15 significant digits. Both the mantissa
// (< 2⁵³) and the power of ten (≤ 10²²) are exact float64 values, so one
// IEEE division rounds correctly (Clinger's fast path): the result is the
// one strconv.ParseFloat gives, several times faster.
func fastFloat(tok []byte) (float64, bool) {
	neg := false
	if tok[0] == '-' {
		neg = true
		tok = tok[1:]
	}
	var mant uint64
	digits, frac := 0, -1
	for i, c := range tok {
		switch {
		case c >= '0' && c <= '9':
			mant = mant*10 + uint64(c-'0')
			if mant != 0 {
				digits++
			}
		case c == '.':
			frac = len(tok) - i - 1
		default:
			return 0, false // exponent
		}
	}
	if digits > 15 || frac >= len(pow10) {
		return 0, false
	}
	v := float64(mant)
	if frac > 0 {
		v /= pow10[frac]
	}
	if neg {
		v = -v
	}
	return v, true
}

// maxSkipDepth bounds the nesting of an unknown value skipped in Bulk mode.
const maxSkipDepth = 32

// skip consumes one JSON value of any type, checking its syntax; field
// names it in errors.
func (p *parser) skip(field string, depth int) error {
	if depth > maxSkipDepth {
		return p.syntaxErr(field, "nesting deeper than %d", maxSkipDepth)
	}
	switch c := p.peek(); c {
	case '"':
		_, err := p.str(field)
		return err
	case '{':
		p.pos++
		for first := true; ; first = false {
			_, ok, err := p.nextMember(first)
			if err != nil || !ok {
				return err
			}
			if err := p.skip(field, depth+1); err != nil {
				return err
			}
		}
	case '[':
		p.pos++
		for first := true; ; first = false {
			more, err := p.nextElem(field, first)
			if err != nil || !more {
				return err
			}
			if err := p.skip(field, depth+1); err != nil {
				return err
			}
		}
	case 't':
		return p.literal(field, "true")
	case 'f':
		return p.literal(field, "false")
	case 'n':
		return p.literal(field, "null")
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			_, err := p.number(field)
			return err
		}
		return p.syntaxErr(field, "want a value, got %s", p.got())
	}
}

func (p *parser) literal(field, lit string) error {
	if len(p.data)-p.pos < len(lit) || string(p.data[p.pos:p.pos+len(lit)]) != lit {
		return p.syntaxErr(field, "want a value, got %s", p.got())
	}
	p.pos += len(lit)
	return nil
}

// appendString appends s as a JSON string. For printable ASCII — every
// value this package's rules accept — the bytes equal strconv.AppendQuote's,
// which is what dnsserver's query log uses: only '"' and '\' are escaped.
// Control characters become \u00XX, other valid UTF-8 is written as is and
// invalid bytes become \ufffd, so the output is always valid JSON.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\' {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || n != 1 {
				i += n
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
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
			const hex = "0123456789abcdef"
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
