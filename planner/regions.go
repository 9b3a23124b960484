package planner

import (
	"cmp"
	"math"
	"slices"
	"strings"
)

// continents maps ISO 3166-1 alpha-2 codes to continents as GeoNames
// assigns them: Russia and Cyprus in Europe; Turkey and the Caucasus in
// Asia; Central America and the Caribbean in North America.
var continents = func() map[string]string {
	m := map[string]string{}
	for name, codes := range map[string]string{
		"Africa": "AO BF BI BJ BW CD CF CG CI CM CV DJ DZ EG EH ER ET GA GH GM GN GQ GW KE KM LR LS LY MA MG ML " +
			"MR MU MW MZ NA NE NG RE RW SC SD SH SL SN SO SS ST SZ TD TG TN TZ UG YT ZA ZM ZW",
		"Asia": "AE AF AM AZ BD BH BN BT CC CN CX GE HK ID IL IN IO IQ IR JO JP KG KH KP KR KW KZ LA LB LK MM " +
			"MN MO MV MY NP OM PH PK PS QA SA SG SY TH TJ TL TM TR TW UZ VN YE",
		"Europe": "AD AL AT AX BA BE BG BY CH CY CZ DE DK EE ES FI FO FR GB GG GI GR HR HU IE IM IS IT JE LI LT " +
			"LU LV MC MD ME MK MT NL NO PL PT RO RS RU SE SI SJ SK SM UA VA XK",
		"North America": "AG AI AW BB BL BM BQ BS BZ CA CR CU CW DM DO GD GL GP GT HN HT JM KN KY LC MF MQ MS MX " +
			"NI PA PM PR SV SX TC TT US VC VG VI",
		"South America": "AR BO BR CL CO EC FK GF GY PE PY SR UY VE",
		"Oceania":       "AS AU CK FJ FM GU KI MH MP NC NF NR NU NZ PF PG PN PW SB TK TO TV UM VU WF WS",
		"Antarctica":    "AQ BV GS HM TF",
	} {
		for c := range strings.FieldsSeq(codes) {
			m[c] = name
		}
	}
	return m
}()

// Continent returns the continent of an ISO 3166-1 alpha-2 country code
// (any case), or "" for an unknown code.
func Continent(country string) string { return continents[strings.ToUpper(country)] }

// Unknown is the region of cells with no known country.
const Unknown = "unknown"

// RegionGain is what the plan does for one continent's cells.
type RegionGain struct {
	Region        string
	Weight        float64 // the region's weight
	Before, After float64 // its total loss with the existing PoPs (+Inf with none) and after the plan
	Sites         int     // new sites in the region
}

// Regions returns the plan's gains per continent (a cell's country is its
// heaviest named point's), heaviest region first.
func (pl *Plan) Regions() []RegionGain {
	p := pl.Problem
	byName := map[string]*RegionGain{}
	get := func(country string) *RegionGain {
		name := Continent(country)
		if name == "" {
			name = Unknown
		}
		r := byName[name]
		if r == nil {
			r = &RegionGain{Region: name}
			byName[name] = r
		}
		return r
	}
	for i, c := range p.Cells {
		r := get(c.Place.Country)
		r.Weight += c.Weight
		r.After += c.Weight * p.Loss.Of(pl.After[i].Km)
		r.Before += c.Weight * p.Loss.Of(pl.Before[i].Km)
	}
	for _, st := range pl.Steps {
		get(st.Site.Country).Sites++
	}
	out := make([]RegionGain, 0, len(byName))
	for _, r := range byName {
		if len(p.Existing) == 0 {
			r.Before = math.Inf(1)
		}
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b RegionGain) int {
		return cmp.Or(cmp.Compare(b.Weight, a.Weight), cmp.Compare(a.Region, b.Region))
	})
	return out
}
