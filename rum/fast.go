package rum

// sampleFast parses the sample at p.pos when it is in exactly the form
// AppendBeacon writes, which is what bulk imports and the agents send:
//
//	{"ts":"2026-11-21T10:00:00.123Z","target":"fra","probe":"https","rtt_ms":23.4}
//
// with an optional ,"served_by":"ams" before the '}'. It reads the members
// as a run of fixed bytes, with no white space, key switch, duplicate or
// escape handling, and reuses parseTime, validLabel's alphabet, parseProbe,
// fastFloat's arithmetic and intern, so that every sample it accepts is one
// that sample accepts, with the same values. On anything else — another
// field order, white space, escapes, an unknown field, a value that sample
// would reject or that needs strconv — it returns false having changed
// nothing but the day cache, and the caller parses the sample with sample,
// which makes the error messages. FuzzSampleFast holds the two equal.
func (p *parser) sampleFast(s *Sample) bool {
	d := p.data
	i := p.pos
	const tsKey = `{"ts":"`
	if len(d)-i < len(tsKey) || string(d[i:i+len(tsKey)]) != tsKey {
		return false
	}
	// ts: the bytes of an RFC 3339 time are none of '"', '\' and control
	// characters, so when parseTime accepts the bytes up to a '"', str
	// would have returned the same slice.
	i += len(tsKey)
	j := i + len("2006-01-02T15:04:05.000Z")
	if j >= len(d) || d[j] != '"' {
		// Not the usual length: find the end.
		j = i
		for j < len(d) && timeByte[d[j]] {
			j++
		}
	}
	if j >= len(d) || d[j] != '"' {
		return false
	}
	ts, why := parseTime(d[i:j], &p.days)
	if why != "" {
		return false
	}
	i = j

	const targetKey = `","target":"`
	if len(d)-i < len(targetKey) || string(d[i:i+len(targetKey)]) != targetKey {
		return false
	}
	i += len(targetKey)
	j = labelEnd(d, i)
	if j == i || j-i > MaxLabelLen || j >= len(d) || d[j] != '"' {
		return false
	}
	var target string
	if string(d[i:j]) == Anycast {
		target = Anycast
	} else {
		target = intern(d[i:j])
	}
	i = j

	const probeKey = `","probe":"`
	if len(d)-i < len(probeKey) || string(d[i:i+len(probeKey)]) != probeKey {
		return false
	}
	i += len(probeKey)
	j = labelEnd(d, i)
	if j >= len(d) || d[j] != '"' {
		return false
	}
	probe, ok := parseProbe(d[i:j])
	if !ok {
		return false
	}
	i = j

	const rttKey = `","rtt_ms":`
	if len(d)-i < len(rttKey) || string(d[i:i+len(rttKey)]) != rttKey {
		return false
	}
	i += len(rttKey)
	rtt, i, ok := fastNumber(d, i)
	if !ok {
		return false
	}

	var servedBy string
	const servedByKey = `,"served_by":"`
	if len(d)-i >= len(servedByKey) && string(d[i:i+len(servedByKey)]) == servedByKey {
		i += len(servedByKey)
		j = labelEnd(d, i)
		if j == i || j-i > MaxLabelLen || j >= len(d) || d[j] != '"' || string(d[i:j]) == Anycast {
			return false
		}
		servedBy = intern(d[i:j])
		i = j + 1
	}
	if i >= len(d) || d[i] != '}' {
		return false
	}
	p.pos = i + 1
	// Field by field: a composite literal is built on the stack and
	// copied, and the copy's wide loads stall on the narrow stores.
	s.TS = ts
	s.Target = target
	s.Probe = probe
	s.RTTms = rtt
	s.ServedBy = servedBy
	return true
}

// labelEnd returns the index of the first byte at or after i in d that is
// not in a PoP label's alphabet [a-z0-9-].
func labelEnd(d []byte, i int) int {
	for i < len(d) && labelByte[d[i]] {
		i++
	}
	return i
}

// labelByte is validLabel's alphabet; timeByte holds every byte parseTime
// accepts. Neither holds '"', '\' or a control character.
var labelByte, timeByte = func() (l, t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		l[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		l[c], t[c] = true, true
	}
	l['-'] = true
	for _, c := range "-+:.TZ" {
		t[c] = true
	}
	return l, t
}()

// fastNumber converts the JSON number at d[i:] when it is followed by ','
// or '}' and fastFloat would take it: -?(0|[1-9][0-9]*)(\.[0-9]+)? with at
// most 15 significant digits. Such a token is exactly what number returns
// (',' and '}' end a number), and the arithmetic is fastFloat's, so the
// value is float's. It returns the index after the number, or false.
func fastNumber(d []byte, i int) (float64, int, bool) {
	neg := false
	if i < len(d) && d[i] == '-' {
		neg = true
		i++
	}
	var mant uint64
	digits, frac := 0, 0
	switch {
	case i >= len(d):
		return 0, 0, false
	case d[i] == '0':
		i++
	case d[i] >= '1' && d[i] <= '9':
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			mant = mant*10 + uint64(d[i]-'0')
			digits++
			i++
		}
	default:
		return 0, 0, false
	}
	if i < len(d) && d[i] == '.' {
		i++
		j := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			mant = mant*10 + uint64(d[i]-'0')
			if mant != 0 {
				digits++
			}
			i++
		}
		frac = i - j
		if frac == 0 {
			return 0, 0, false
		}
	}
	if i >= len(d) || d[i] != ',' && d[i] != '}' || digits > 15 || frac >= len(pow10) {
		return 0, 0, false
	}
	v := float64(mant)
	if frac > 0 {
		v /= pow10[frac]
	}
	if neg {
		v = -v
	}
	return v, i, true
}
