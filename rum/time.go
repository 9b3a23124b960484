package rum

import (
	"encoding/binary"
	"time"
)

// dayCache remembers the last date parseTime converted: the samples of a
// beacon, and consecutive log lines, almost always share it, and the
// calendar arithmetic is a fifth of the parse.
type dayCache struct {
	date [10]byte // "2006-01-02"
	days int64    // since 1970-01-01
}

// parseTime parses an RFC 3339 timestamp, "2006-01-02T15:04:05Z" with an
// optional fraction of any length (digits past nanoseconds are truncated,
// as time.Parse does) and "Z" or a ±hh:mm offset, and returns it in UTC.
// It accepts a subset of what time.Parse(time.RFC3339Nano, …) accepts and
// agrees with it there (FuzzParseTime), at a fraction of the cost. On
// failure it returns a reason for the error message. c may be nil.
func parseTime(b []byte, c *dayCache) (time.Time, string) {
	const syntax = "not an RFC 3339 time (want 2006-01-02T15:04:05.000Z)"
	if len(b) < len("2006-01-02T15:04:05Z") || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return time.Time{}, syntax
	}
	hour, ok1 := digits2(b[11], b[12])
	minute, ok2 := digits2(b[14], b[15])
	sec, ok3 := digits2(b[17], b[18])
	if !ok1 || !ok2 || !ok3 {
		return time.Time{}, syntax
	}
	i := 19
	nsec := 0
	if b[i] == '.' {
		i++
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			if i-j < 9 {
				nsec = nsec*10 + int(b[i]-'0')
			}
			i++
		}
		if i == j {
			return time.Time{}, syntax
		}
		if n := i - j; n < 9 {
			nsec *= pow10int[9-n]
		}
	}
	offset := 0
	switch {
	case i == len(b):
		return time.Time{}, "missing time zone (want Z or ±hh:mm)"
	case b[i] == 'Z' && i+1 == len(b):
	case (b[i] == '+' || b[i] == '-') && len(b)-i == 6 && b[i+3] == ':':
		oh, ok1 := digits(b[i+1 : i+3])
		om, ok2 := digits(b[i+4 : i+6])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return time.Time{}, "bad time zone offset"
		}
		offset = oh*3600 + om*60
		if b[i] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, syntax
	}
	var days int64
	if c != nil && binary.LittleEndian.Uint64(b) == binary.LittleEndian.Uint64(c.date[:]) && b[8] == c.date[8] && b[9] == c.date[9] {
		days = c.days
	} else {
		year, ok1 := digits(b[0:4])
		month, ok2 := digits(b[5:7])
		day, ok3 := digits(b[8:10])
		switch {
		case !ok1 || !ok2 || !ok3:
			return time.Time{}, syntax
		case month < 1 || month > 12:
			return time.Time{}, "month out of range"
		case day < 1 || day > daysIn(month, year):
			return time.Time{}, "day out of range"
		}
		days = daysFromCivil(year, month, day)
		if c != nil {
			copy(c.date[:], b)
			c.days = days
		}
	}
	switch {
	case hour > 23:
		return time.Time{}, "hour out of range"
	case minute > 59:
		return time.Time{}, "minute out of range"
	case sec > 59:
		return time.Time{}, "second out of range"
	}
	unix := days*86400 + int64(hour*3600+minute*60+sec-offset)
	if unix < minUnix || unix >= maxUnix {
		// "0000-01-01T00:00:00+01:00" is in year -1 in UTC, which
		// RFC 3339 cannot write.
		return time.Time{}, "outside years 0000..9999 in UTC"
	}
	return time.Unix(unix, int64(nsec)).UTC(), ""
}

// The range of RFC 3339 times in UTC: years 0000 to 9999.
var (
	minUnix = daysFromCivil(0, 1, 1) * 86400
	maxUnix = daysFromCivil(10000, 1, 1) * 86400
)

// pow10int holds the powers of ten that scale a fraction of fewer than 9
// digits to nanoseconds.
var pow10int = [...]int{1, 10, 100, 1000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000}

// digits2 is digits for a field of two.
func digits2(hi, lo byte) (int, bool) {
	hi -= '0'
	lo -= '0'
	return int(hi)*10 + int(lo), hi <= 9 && lo <= 9
}

// digits parses a fixed-width decimal field.
func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// civilFromDays is the inverse of daysFromCivil.
func civilFromDays(z int64) (y, m, d int) {
	z += 719468
	era := z
	if era < 0 {
		era -= 146096
	}
	era /= 146097
	doe := int(z - era*146097)
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if m > 12 {
		m -= 12
	}
	y = yoe + int(era)*400
	if m <= 2 {
		y++
	}
	return y, m, d
}

// appendTime appends t in UTC as 2006-01-02T15:04:05.000Z, with 6 or 9
// fraction digits instead of 3 when t has sub-millisecond precision, so that
// parseTime gives t back exactly. With millis, it truncates to 3 digits
// always, exactly as t.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000Z")
// (the query log's format). Years outside 0..9999, which RFC 3339 cannot
// express, fall back to AppendFormat.
func appendTime(dst []byte, t time.Time, millis bool) []byte {
	sec := t.Unix()
	days := sec / 86400
	rem := int(sec % 86400)
	if rem < 0 {
		rem += 86400
		days--
	}
	y, m, d := civilFromDays(days)
	if y < 0 || y > 9999 {
		return t.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000Z")
	}
	dst = append(dst,
		byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+m/10), byte('0'+m%10), '-',
		byte('0'+d/10), byte('0'+d%10), 'T',
		byte('0'+rem/36000), byte('0'+rem/3600%10), ':',
		byte('0'+rem/600%6), byte('0'+rem/60%10), ':',
		byte('0'+rem%60/10), byte('0'+rem%10), '.')
	ns := t.Nanosecond()
	n := 9
	switch {
	case millis || ns%1_000_000 == 0:
		n, ns = 3, ns/1_000_000
	case ns%1000 == 0:
		n, ns = 6, ns/1000
	}
	var buf [9]byte
	for i := n - 1; i >= 0; i-- {
		buf[i] = byte('0' + ns%10)
		ns /= 10
	}
	dst = append(dst, buf[:n]...)
	return append(dst, 'Z')
}
