package planner

import (
	"math"
	"strings"
	"testing"

	"github.com/steer-gslb/steer/data"
)

var weightCases = []struct {
	name, in string
	n        int    // points on success
	err      string // error substring; "" for success
}{
	{"plain", "48.85,2.35,100\n-33.9,151.2,5.5\n", 2, ""},
	{"header comments blanks", "# users per /24\nlat,lon,weight\n\n 10 , 20 , 3 \n", 1, ""},
	{"zero weights kept", "1,2,0\n3,4,1\n", 2, ""},
	{"crlf", "1,2,3\r\n4,5,6\r\n", 2, ""},
	{"fields", "1,2\n", 0, "line 1: 2 fields, want lat,lon,weight"},
	{"too many", "1,2,3,4\n", 0, "line 1: 4 fields"},
	{"lat", "x,2,3\n", 0, `line 1: field 1 (lat): "x" is not a finite number`},
	{"lon range", "1,2,3\n1,181,3\n", 0, "line 2: field 2 (lon): 181 outside -180..180"},
	{"lat range", "-90.5,0,1\n", 0, "field 1 (lat): -90.5 outside -90..90"},
	{"weight", "1,2,abc\n", 0, `field 3 (weight): "abc" is not a finite number`},
	{"nan", "1,2,NaN\n", 0, `field 3 (weight): "NaN" is not a finite number`},
	{"inf", "1,2,+Inf\n", 0, `"+Inf" is not a finite number`},
	{"negative", "1,2,-3\n", 0, "field 3 (weight): -3 is negative"},
	{"late header", "1,2,3\nlat,lon,weight\n", 0, `line 2: field 1 (lat): "lat" is not a finite number`},
	{"empty", "# nothing\n", 0, "weights: 0 points"},
	{"all zero", "1,2,0\n", 0, "want a finite, positive total"},
	{"overflow", "1,2,1e308\n1,2,1e308\n", 0, "want a finite, positive total"},
	{"binary", "1,2,3\n\x00\x01\n", 0, "line 2: not text"},
	{"long line", strings.Repeat("1", maxLine+10), 0, "line 1: longer than"},
}

func TestParseWeights(t *testing.T) {
	for _, tc := range weightCases {
		pts, err := ParseWeights(strings.NewReader(tc.in))
		switch {
		case tc.err == "" && (err != nil || len(pts) != tc.n):
			t.Errorf("%s: %d points, %v; want %d", tc.name, len(pts), err, tc.n)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
		}
	}
	pts, _ := ParseWeights(strings.NewReader("48.85,2.35,100\n"))
	if pts[0] != (Point{Lat: 48.85, Lon: 2.35, Weight: 100}) {
		t.Errorf("point %+v", pts[0])
	}
}

func FuzzParseWeights(f *testing.F) {
	for _, tc := range weightCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		pts, err := ParseWeights(strings.NewReader(in))
		if err != nil {
			return
		}
		total := 0.0
		for _, p := range pts {
			if CheckLatLon(p.Lat, p.Lon) != nil || !(p.Weight >= 0) || math.IsInf(p.Weight, 0) {
				t.Fatalf("accepted %+v", p)
			}
			total += p.Weight
		}
		if _, err := Cells(pts); err != nil || !(total > 0) {
			t.Fatalf("accepted points Cells rejects (%v) or total %v", err, total)
		}
	})
}

var candidateCases = []struct {
	name, in string
	want     []string // "Name/CC" of each site
	err      string
}{
	{"cities", "Mumbai\nLagos,NG\nparis , us\n", []string{"Mumbai/IN", "Lagos/NG", "Paris/US"}, ""},
	{"positions", "lat,lon,name\n19.07,72.88,BOM1\n-1.29,36.82\n", []string{"BOM1/IN", "near Nairobi (1 km)/KE"}, ""},
	{"city with digit", "6th of October City\n", []string{"6th of October City/EG"}, ""},
	{"mixed comments", "# colo list\n\nSingapore\n1.35,103.82,SIN2\n", []string{"Singapore/SG", "SIN2/SG"}, ""},
	{"unknown city", "Mumbai\nNowhere Xanadu\n", nil, `line 2: field 1 (city): no GeoNames city (15,000 people or more) named "Nowhere Xanadu"`},
	{"unknown in country", "Paris,JP\n", nil, `named "Paris" in JP`},
	{"bad country", "Paris,FRA\n", nil, `line 1: field 2 (country): "FRA" is not an ISO 3166-1 alpha-2 code`},
	{"city fields", "Paris,FR,x\n", nil, "3 fields, want City[,CC]"},
	{"lon", "10,abc\n", nil, `field 2 (lon): "abc" is not a finite number`},
	{"lon range", "10,200\n", nil, "field 2 (lon): 200 outside"},
	{"position fields", "1,2,a,b\n", nil, "4 fields, want lat,lon[,name]"},
	{"lone number", "12\n", nil, "1 fields, want lat,lon[,name]"},
	{"empty", "\n# none\n", nil, "candidates: no sites"},
	{"empty city", ",FR\n", nil, `no GeoNames city (15,000 people or more) named "" in FR`},
}

func TestParseCandidates(t *testing.T) {
	g, _ := shippedGazetteer(t)
	for _, tc := range candidateCases {
		sites, err := ParseCandidates(strings.NewReader(tc.in), g)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		var got []string
		for _, s := range sites {
			got = append(got, s.Name+"/"+s.Country)
		}
		if strings.Join(got, ";") != strings.Join(tc.want, ";") {
			t.Errorf("%s: sites %v, want %v", tc.name, got, tc.want)
		}
	}
}

func FuzzParseCandidates(f *testing.F) {
	for _, tc := range candidateCases {
		f.Add(tc.in)
	}
	g, _ := shippedGazetteer(f)
	f.Fuzz(func(t *testing.T, in string) {
		sites, err := ParseCandidates(strings.NewReader(in), g)
		if err != nil {
			return
		}
		for _, s := range sites {
			if CheckLatLon(s.Lat, s.Lon) != nil || s.Name == "" {
				t.Fatalf("accepted %+v", s)
			}
		}
	})
}

var excludeCases = []struct {
	in   string
	want string
	err  string
}{
	{"", "", ""},
	{"  ", "", ""},
	{"CN,RU", "CN,RU", ""},
	{" cn , ru ,CN", "CN,RU", ""},
	{"CN,,RU", "", `item 2 "" is not an ISO 3166-1 alpha-2 country code`},
	{"CHN", "", `item 1 "CHN" is not`},
	{"XX", "", `item 1 "XX" is not`},
	{"C\x00", "", "is not"},
}

func TestParseExclude(t *testing.T) {
	for _, tc := range excludeCases {
		got, err := ParseExclude(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseExclude(%q): error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || strings.Join(got, ",") != tc.want {
			t.Errorf("ParseExclude(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

func FuzzParseExclude(f *testing.F) {
	for _, tc := range excludeCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ParseExclude(in)
		if err != nil {
			return
		}
		for _, c := range got {
			if Continent(c) == "" || strings.ToUpper(c) != c {
				t.Fatalf("accepted %q", c)
			}
		}
	})
}

var popsCases = []struct {
	in, want, err string // want: label/Name/CC;...
}{
	{"lhr=London,sin=Singapore", "lhr/London/GB;sin/Singapore/SG", ""},
	{" gru = SaoPaulo ,", "", `item 2 "" is not label=City`},
	{"bom=Mumbai", "bom/Mumbai/IN", ""},
	{"lhr", "", `pops: item 1 "lhr" is not label=City`},
	{"=London", "", "is not label=City"},
	{"LHR=London", "", `pops: item 1: label "LHR" must be lowercase`},
	{"anycast=London", "", "reserved"},
	{"a=London,a=Paris", "", `pops: item 2: label "a" twice`},
	{"x=Nowhere Xanadu", "", `no measured city or GeoNames city named "Nowhere Xanadu"`},
	{"", "", "pops: empty list"},
}

func TestParsePoPs(t *testing.T) {
	g, _ := shippedGazetteer(t)
	m, _, err := data.LoadMatrix()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range popsCases {
		sites, err := ParsePoPs(tc.in, m, g)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParsePoPs(%q): error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		var got []string
		for _, s := range sites {
			got = append(got, s.Label+"/"+s.Name+"/"+s.Country)
		}
		if err != nil || strings.Join(got, ";") != tc.want {
			t.Errorf("ParsePoPs(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

func FuzzParsePoPs(f *testing.F) {
	for _, tc := range popsCases {
		f.Add(tc.in)
	}
	g, _ := shippedGazetteer(f)
	m, _, err := data.LoadMatrix()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in string) {
		sites, err := ParsePoPs(in, m, g)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, s := range sites {
			if CheckLatLon(s.Lat, s.Lon) != nil || s.Label == "" || seen[s.Label] {
				t.Fatalf("accepted %+v", s)
			}
			seen[s.Label] = true
		}
	})
}
