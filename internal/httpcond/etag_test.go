package httpcond

import "testing"

func TestNoneMatch(t *testing.T) {
	for _, tc := range []struct {
		values []string
		want   bool
	}{
		{nil, false},
		{[]string{`"a"`}, true},
		{[]string{`W/"a"`}, true},
		{[]string{`"b", "a"`}, true},
		{[]string{`"b"`, ` "a" `}, true},
		{[]string{`*`}, true},
		{[]string{`"b"`}, false},
		{[]string{`a`}, false},
	} {
		if got := NoneMatch(tc.values, `"a"`); got != tc.want {
			t.Errorf("NoneMatch(%q) = %v, want %v", tc.values, got, tc.want)
		}
	}
}
