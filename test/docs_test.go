package test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/steer-gslb/steer/control"
	"github.com/steer-gslb/steer/mapstore"
	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/probe"
	"github.com/steer-gslb/steer/rum"
)

// designDoc is the design document, relative to the repository root.
const designDoc = "docs/DESIGN.md"

// TestDocsLinks checks every Markdown file of the repository (README.md,
// docs/*.md and every other tracked or new, not ignored, *.md): each
// relative link or image, [text](path) or [text](path#anchor), names a file
// or directory inside the repository that a fresh clone has (not ignored by
// git), and each #anchor names a heading of the target Markdown file by
// GitHub's rules. Absolute http(s) links are not fetched, only parsed.
func TestDocsLinks(t *testing.T) {
	root := repoRoot(t)
	files := repoFiles(t, root, "*.md")
	if !slices.Contains(files, "README.md") || !slices.Contains(files, designDoc) {
		t.Fatalf("README.md or %s not among the Markdown files found: %v", designDoc, files)
	}
	problems, links, local, err := checkLinks(root, files, func(paths []string) map[string]bool { return gitIgnored(t, root, paths) })
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
	t.Logf("%d Markdown files, %d links, %d of them inside the repository", len(files), links, local)
}

// TestCheckLinksFindsBrokenLinks runs the link check on a small tree with
// one link of every kind, good and broken, and wants exactly the broken
// ones reported.
func TestCheckLinksFindsBrokenLinks(t *testing.T) {
	root := t.TempDir()
	write := func(name, text string) {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("README.md", "# Top\n\n## Layout (`x`)\n\n"+
		"[ok](docs/A.md) [ok](docs/A.md#second-part) [ok](#layout-x) [ok](docs/) [ok](src/x.go#L3-L9)\n"+
		"![ok](docs/img.png) [ok](https://example.net/a?b#c) `[code](nowhere.md)`\n"+
		"[bad](docs/missing.md) [bad](docs/A.md#nope) [bad](#layout) [bad](src/x.go#func)\n"+
		"![bad](docs/missing.png) [bad](../up.md) [bad](https:///nohost) [bad](ignored.md)\n")
	write("docs/A.md", "# A\n\n## Second part\n\n[ok](../README.md#top) [bad](../README.md#a)\n")
	write("docs/img.png", "png")
	write("src/x.go", "package x")
	write("ignored.md", "# ignored")
	ignored := func(paths []string) map[string]bool {
		out := map[string]bool{}
		for _, p := range paths {
			out[p] = p == "ignored.md"
		}
		return out
	}
	problems, links, local, err := checkLinks(root, []string{"README.md", "docs/A.md"}, ignored)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	head := regexp.MustCompile(`^(\S+): link ("(?:[^"\\]|\\.)*")`)
	for _, p := range problems {
		m := head.FindStringSubmatch(p)
		if m == nil {
			t.Fatalf("problem %q does not start with file:line: link \"dest\"", p)
		}
		got = append(got, m[1]+" "+m[2])
	}
	want := []string{
		`README.md:7 "docs/missing.md"`, `README.md:7 "docs/A.md#nope"`, `README.md:7 "#layout"`, `README.md:7 "src/x.go#func"`,
		`README.md:8 "docs/missing.png"`, `README.md:8 "../up.md"`, `README.md:8 "https:///nohost"`,
		`docs/A.md:5 "../README.md#a"`, `README.md:8 "ignored.md"`,
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if links != 17 || local != 12 {
		t.Errorf("%d links, %d inside the tree; want 17 and 12", links, local)
	}
}

// checkLinks checks the links of the Markdown files (relative to root) and
// returns the problems found, one message each, naming file:line; the
// count of links and of those that lead to files inside the tree. ignored
// reports which of the existing targets version control ignores.
func checkLinks(root string, files []string, ignored func([]string) map[string]bool) (problems []string, links, local int, err error) {
	docs := map[string]*mdDoc{} // by path relative to root, parsed on demand
	load := func(rel string) (*mdDoc, error) {
		if d, ok := docs[rel]; ok {
			return d, nil
		}
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			return nil, err
		}
		d := parseMarkdown(b)
		docs[rel] = d
		return d, nil
	}
	report := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	type target struct{ from, dest, rel string }
	var targets []target
	for _, f := range files {
		d, err := load(f)
		if err != nil {
			return nil, 0, 0, err
		}
		for _, l := range d.links {
			links++
			where := fmt.Sprintf("%s:%d", f, l.line)
			rel, anchor, err := resolveLink(f, l.dest)
			if err != nil {
				report("%s: link %q: %v", where, l.dest, err)
				continue
			}
			if rel == "" { // an absolute URL, parsed by resolveLink
				continue
			}
			info, err := os.Stat(filepath.Join(root, filepath.FromSlash(rel)))
			if err != nil {
				report("%s: link %q: %s does not exist in the repository", where, l.dest, rel)
				continue
			}
			targets = append(targets, target{where, l.dest, rel})
			if anchor == "" {
				continue
			}
			switch {
			case !info.IsDir() && strings.HasSuffix(strings.ToLower(rel), ".md"):
				td, err := load(rel)
				if err != nil {
					return nil, 0, 0, err
				}
				if !td.anchors[anchor] {
					report("%s: link %q: %s has no heading with anchor #%s (headings: %s)", where, l.dest, rel, anchor, strings.Join(td.slugs, ", "))
				}
			case !lineAnchor.MatchString(anchor):
				report("%s: link %q: #%s on a file that is not Markdown (only #L<n> line anchors work there)", where, l.dest, anchor)
			}
		}
	}
	// A link to a file git ignores works here and not in a fresh clone.
	rels := make([]string, len(targets))
	for i, tg := range targets {
		rels[i] = tg.rel
	}
	ign := ignored(rels)
	for _, tg := range targets {
		if ign[tg.rel] {
			report("%s: link %q: %s is ignored by git: a fresh clone does not have it", tg.from, tg.dest, tg.rel)
		}
	}
	return problems, links, len(targets), nil
}

// lineAnchor is GitHub's anchor for lines of a source file: #L10, #L10-L20.
var lineAnchor = regexp.MustCompile(`^L\d+(-L\d+)?$`)

// resolveLink resolves a link destination found in the Markdown file from
// (relative to the repository root, slash-separated). For a link inside the
// repository it returns the target relative to the root ("" for an anchor
// in from itself, reported as from) and the anchor; for an absolute URL it
// only checks that it parses and returns "".
func resolveLink(from, dest string) (rel, anchor string, err error) {
	if dest == "" {
		return "", "", errors.New("empty destination")
	}
	if u, err := url.Parse(dest); err == nil && u.Scheme != "" {
		switch u.Scheme {
		case "http", "https":
			if u.Host == "" {
				return "", "", errors.New("absolute URL without a host")
			}
			return "", "", nil
		case "mailto":
			if u.Opaque == "" {
				return "", "", errors.New("mailto: without an address")
			}
			return "", "", nil
		default:
			return "", "", fmt.Errorf("scheme %q: want a relative path or an http(s) URL", u.Scheme)
		}
	} else if err != nil {
		return "", "", fmt.Errorf("does not parse: %w", err)
	} else if strings.HasPrefix(dest, "//") { // another host, on the page's scheme
		if u.Host == "" {
			return "", "", errors.New("protocol-relative URL without a host")
		}
		return "", "", nil
	}
	p, anchor, _ := strings.Cut(dest, "#")
	p, _, _ = strings.Cut(p, "?")
	p, err = url.PathUnescape(p)
	if err != nil {
		return "", "", fmt.Errorf("bad escape: %w", err)
	}
	if strings.Contains(anchor, "#") {
		return "", "", errors.New("two '#'")
	}
	switch {
	case p == "":
		rel = from
	case strings.HasPrefix(p, "/"): // GitHub resolves it against the repository root
		rel = path.Clean(strings.TrimPrefix(p, "/"))
	default:
		rel = path.Join(path.Dir(from), p)
	}
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", "", errors.New("points outside the repository")
	}
	if p == "" && anchor == "" {
		return "", "", errors.New("empty destination")
	}
	return rel, anchor, nil
}

// mdDoc is what TestDocsLinks needs of a Markdown file.
type mdDoc struct {
	headings []string        // heading text as rendered (inline markup removed), in order
	slugs    []string        // their anchors, GitHub's way (duplicates numbered)
	anchors  map[string]bool // slugs and explicit <a name|id="…"> anchors
	links    []mdLink
}

type mdLink struct {
	line int
	dest string
}

var (
	// atxHeading is "# text", up to six #, with an optional closing sequence.
	atxHeading = regexp.MustCompile(`^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$`)
	// inlineLink is [text](dest) or ![alt](dest), dest optionally in <>
	// and followed by a title.
	inlineLink = regexp.MustCompile(`!?\[[^\]]*\]\(\s*(<[^>]*>|[^)\s]*)(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)`)
	// refDef is a link reference definition, [label]: dest.
	refDef = regexp.MustCompile(`^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)`)
	// htmlRef is an HTML attribute that links: <img src="…">, <a href="…">.
	htmlRef = regexp.MustCompile(`\b(?:src|href)="([^"]*)"`)
	// htmlAnchor is an explicit anchor: <a name="…"> or id="…".
	htmlAnchor = regexp.MustCompile(`<a\s[^>]*\b(?:name|id)="([^"]+)"`)
	// fence opens or closes a fenced code block.
	fence = regexp.MustCompile("^ {0,3}(```+|~~~+)")
)

// parseMarkdown finds the headings and links of a Markdown document,
// outside fenced code blocks and code spans.
func parseMarkdown(b []byte) *mdDoc {
	d := &mdDoc{anchors: map[string]bool{}}
	seen := map[string]int{}
	inFence := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if m := fence.FindStringSubmatch(line); m != nil {
			switch {
			case inFence == "":
				inFence = m[1]
			case m[1][0] == inFence[0] && len(m[1]) >= len(inFence) && strings.TrimSpace(line[strings.Index(line, m[1])+len(m[1]):]) == "":
				inFence = ""
			}
			continue
		}
		if inFence != "" {
			continue
		}
		if m := atxHeading.FindStringSubmatch(line); m != nil {
			text := headingText(m[2])
			s := slug(text)
			if k, dup := seen[s]; dup {
				for {
					k++
					if _, taken := seen[fmt.Sprintf("%s-%d", s, k)]; !taken {
						break
					}
				}
				seen[s] = k
				s = fmt.Sprintf("%s-%d", s, k)
			}
			seen[s] = 0
			d.headings = append(d.headings, text)
			d.slugs = append(d.slugs, s)
			d.anchors[s] = true
		}
		line = blankCodeSpans(line) // what code spans quote is not a link
		for _, m := range htmlAnchor.FindAllStringSubmatch(line, -1) {
			d.anchors[m[1]] = true
		}
		var dests []string
		for _, m := range inlineLink.FindAllStringSubmatch(line, -1) {
			dests = append(dests, strings.TrimSuffix(strings.TrimPrefix(m[1], "<"), ">"))
		}
		if m := refDef.FindStringSubmatch(line); m != nil {
			dests = append(dests, strings.TrimSuffix(strings.TrimPrefix(m[1], "<"), ">"))
		}
		for _, m := range htmlRef.FindAllStringSubmatch(line, -1) {
			dests = append(dests, m[1])
		}
		for _, dest := range dests {
			d.links = append(d.links, mdLink{line: n, dest: dest})
		}
	}
	return d
}

// blankCodeSpans replaces the text of code spans (text between two equal
// runs of backticks) with spaces, so that what they quote is not taken for
// a link.
func blankCodeSpans(line string) string {
	b := []byte(line)
	for i := 0; i < len(b); {
		if b[i] != '`' {
			i++
			continue
		}
		n := 0
		for i+n < len(b) && b[i+n] == '`' {
			n++
		}
		// find the closing run of exactly n backticks
		end := -1
		for j := i + n; j < len(b); {
			if b[j] != '`' {
				j++
				continue
			}
			k := 0
			for j+k < len(b) && b[j+k] == '`' {
				k++
			}
			if k == n {
				end = j
				break
			}
			j += k
		}
		if end < 0 {
			i += n
			continue
		}
		for j := i + n; j < end; j++ {
			if b[j] != '`' {
				b[j] = ' '
			}
		}
		i = end + n
	}
	return string(b)
}

// headingText is a heading as GitHub renders it to text: code spans,
// links and images reduced to their text, emphasis markers and HTML tags
// dropped.
func headingText(s string) string {
	s = htmlTag.ReplaceAllString(s, "")
	s = mdLinkText.ReplaceAllString(s, "$1")
	s = strings.NewReplacer("`", "", "**", "", "__", "").Replace(s)
	return strings.TrimSpace(s)
}

var (
	htmlTag    = regexp.MustCompile(`<[^>]+>`)
	mdLinkText = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
)

// slug is GitHub's anchor for a heading's text (github-slugger): lower
// case; letters, numbers, '-' and '_' kept; every space a '-'; every other
// character, punctuation and symbols alike, dropped.
func slug(text string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(text) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// slugCases are headings of this repository's documents, and the cases the
// slug rules name, with GitHub's anchors for them.
var slugCases = []struct{ heading, want string }{
	{"The loop", "the-loop"},
	{"Beacons", "beacons"},
	{"DNS query log", "dns-query-log"},
	{"The simulated world (`steer sim`)", "the-simulated-world-steer-sim"},
	{"Map quality (`steer build` + `steer eval`, issue #7)", "map-quality-steer-build--steer-eval-issue-7"},
	{"Real-user measurement: collector, store, probes, JavaScript beacon", "real-user-measurement-collector-store-probes-javascript-beacon"},
	{"pyasn: prefix → origin AS, and AS names", "pyasn-prefix--origin-as-and-as-names"},
	{"bench/ — end-to-end DNS benchmark", "bench--end-to-end-dns-benchmark"},
	{`WonderProxy "A day in the life of the Internet"`, "wonderproxy-a-day-in-the-life-of-the-internet"},
	{"Collector (RUM intake, spool, store)", "collector-rum-intake-spool-store"},
	{"São Paulo, Zürich", "são-paulo-zürich"},
	{"snake_case and C++", "snake_case-and-c"},
	{"2.2 KB, 100 %", "22-kb-100-"},
	{"Double  space", "double--space"},
	{"[A link](x.md) and **bold** `code`", "a-link-and-bold-code"},
	{"Status", "status"},
}

// TestSlug holds slug to GitHub's anchors.
func TestSlug(t *testing.T) {
	for _, tc := range slugCases {
		if got := slug(headingText(tc.heading)); got != tc.want {
			t.Errorf("slug(%q) = %q, want %q", tc.heading, got, tc.want)
		}
	}
}

// markdownSample has one construct of each kind parseMarkdown handles.
const markdownSample = "# Title\n\nSee [a](a.md#x), ![img](docs/img/x.png \"t\") and [b](<b c.md>).\n" +
	"`[not](a link)` and ``[nor](this)``\n\n```sh\n# not a heading [c](c.md)\n```\n\n## Intro ##\n## Intro\n" +
	"[ref]: ref.md\n<img src=\"pic.png\"> <a name=\"custom\"></a>\n~~~\n## hidden\n~~~\n### `code` heading\n"

// TestParseMarkdown checks the parser the link test stands on: headings in
// order with numbered duplicates, links and images outside code, and
// nothing from fenced blocks or code spans.
func TestParseMarkdown(t *testing.T) {
	doc := parseMarkdown([]byte(markdownSample))
	wantSlugs := []string{"title", "intro", "intro-1", "code-heading"}
	if !slices.Equal(doc.slugs, wantSlugs) {
		t.Errorf("slugs %q, want %q", doc.slugs, wantSlugs)
	}
	var dests []string
	for _, l := range doc.links {
		dests = append(dests, fmt.Sprintf("%d:%s", l.line, l.dest))
	}
	wantDests := []string{"3:a.md#x", "3:docs/img/x.png", "3:b c.md", "12:ref.md", "13:pic.png"}
	if !slices.Equal(dests, wantDests) {
		t.Errorf("links %q, want %q", dests, wantDests)
	}
	if !doc.anchors["custom"] || doc.anchors["hidden"] {
		t.Errorf("anchors %v: want custom, not hidden", doc.anchors)
	}
}

// resolveCases are link destinations found in a file, what they resolve
// to, or the error they give.
var resolveCases = []struct {
	from, dest, rel, anchor, err string
}{
	{"README.md", "docs/DESIGN.md", "docs/DESIGN.md", "", ""},
	{"README.md", "docs/DESIGN.md#the-loop", "docs/DESIGN.md", "the-loop", ""},
	{"docs/DESIGN.md", "../README.md#layout", "README.md", "layout", ""},
	{"docs/DESIGN.md", "#beacons", "docs/DESIGN.md", "beacons", ""},
	{"docs/DESIGN.md", "BENCHMARKS.md", "docs/BENCHMARKS.md", "", ""},
	{"bgp/testdata/README.md", "../../data/SOURCES.md", "data/SOURCES.md", "", ""},
	{"docs/x.md", "/examples/steer.yaml", "examples/steer.yaml", "", ""},
	{"docs/x.md", "my%20file.md", "docs/my file.md", "", ""},
	{"README.md", "https://github.com/miekg/dns", "", "", ""},
	{"README.md", "../outside.md", "", "", "points outside the repository"},
	{"README.md", "", "", "", "empty destination"},
	{"README.md", "https:///nohost", "", "", "absolute URL without a host"},
	{"README.md", "ftp://example.net/x", "", "", `scheme "ftp"`},
	{"README.md", "a.md#x#y", "", "", "two '#'"},
	{"README.md", "//example.net/x", "", "", ""},
	{"README.md", "//", "", "", "protocol-relative URL without a host"},
}

// TestResolveLink table-tests link resolution.
func TestResolveLink(t *testing.T) {
	for _, tc := range resolveCases {
		rel, anchor, err := resolveLink(tc.from, tc.dest)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("resolveLink(%q, %q): error %v, want one containing %q", tc.from, tc.dest, err, tc.err)
			}
		case err != nil:
			t.Errorf("resolveLink(%q, %q): %v", tc.from, tc.dest, err)
		case rel != tc.rel || anchor != tc.anchor:
			t.Errorf("resolveLink(%q, %q) = %q, %q; want %q, %q", tc.from, tc.dest, rel, anchor, tc.rel, tc.anchor)
		}
	}
}

// FuzzParseMarkdown: any document parses without a panic; every heading
// has one anchor of its own, its slug (numbered when repeated), and every
// link is on a line of the document.
func FuzzParseMarkdown(f *testing.F) {
	f.Add([]byte(markdownSample))
	for _, tc := range slugCases {
		f.Add([]byte("# " + tc.heading + "\n## " + tc.heading + "\n[x](" + tc.want + ".md#" + tc.want + ")\n"))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d := parseMarkdown(b)
		if len(d.slugs) != len(d.headings) {
			t.Fatalf("%d headings, %d slugs", len(d.headings), len(d.slugs))
		}
		seen := map[string]bool{}
		for i, s := range d.slugs {
			if seen[s] || !d.anchors[s] || !strings.HasPrefix(s, slug(d.headings[i])) {
				t.Fatalf("heading %q: anchor %q repeated, missing, or not its slug %q", d.headings[i], s, slug(d.headings[i]))
			}
			seen[s] = true
		}
		lines := 1 + bytes.Count(b, []byte("\n"))
		for _, l := range d.links {
			if l.line < 1 || l.line > lines {
				t.Fatalf("link %q on line %d of %d", l.dest, l.line, lines)
			}
		}
	})
}

// FuzzResolveLink: any destination resolves or gives an error, without a
// panic, and what resolves stays inside the repository.
func FuzzResolveLink(f *testing.F) {
	for _, tc := range resolveCases {
		f.Add(tc.from, tc.dest)
	}
	f.Fuzz(func(t *testing.T, from, dest string) {
		if from == "" || path.Clean(from) != from || path.IsAbs(from) || strings.HasPrefix(from, "../") || from == ".." {
			return // a Markdown file of the repository, as repoFiles lists it
		}
		rel, _, err := resolveLink(from, dest)
		if err == nil && rel != "" && (rel == ".." || strings.HasPrefix(rel, "../") || path.IsAbs(rel)) {
			t.Fatalf("resolveLink(%q, %q) = %q: outside the repository", from, dest, rel)
		}
	})
}

// TestDesignReferences: every mention of the design document in the code,
// help texts and documents names it by its path in the repository
// (docs/DESIGN.md; inside docs/, DESIGN.md), and every section it cites —
// docs/DESIGN.md, "Section" or docs/DESIGN.md#anchor — is a heading there.
func TestDesignReferences(t *testing.T) {
	root := repoRoot(t)
	b, err := os.ReadFile(filepath.Join(root, designDoc))
	if err != nil {
		t.Fatal(err)
	}
	design := parseMarkdown(b)
	anyName := regexp.MustCompile(`DESIGN\.md`)
	cited := regexp.MustCompile(`docs/DESIGN\.md,\s*(?://\s*)?"([^"\n]+)"`)
	anchored := regexp.MustCompile(`docs/DESIGN\.md#([A-Za-z0-9_-]+)`)
	refs := 0
	for _, pattern := range []string{"*.go", "*.md", "*.yaml", "*.yml", "*.sh", "Makefile"} {
		for _, f := range repoFiles(t, root, pattern) {
			if f == designDoc || f == "test/docs_test.go" { // the document, and this file's patterns
				continue
			}
			src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
			if err != nil {
				t.Fatal(err)
			}
			for _, loc := range anyName.FindAllIndex(src, -1) {
				refs++
				ok := bytes.HasSuffix(src[:loc[0]], []byte("docs/")) ||
					path.Dir(f) == "docs" && strings.HasSuffix(f, ".md")
				if !ok {
					t.Errorf("%s:%d: DESIGN.md not named by its path docs/DESIGN.md", f, 1+bytes.Count(src[:loc[0]], []byte("\n")))
				}
			}
			for _, m := range cited.FindAllSubmatchIndex(src, -1) {
				if name := string(src[m[2]:m[3]]); !slices.Contains(design.headings, name) {
					t.Errorf("%s:%d: cites section %q of %s, which has no such heading", f, 1+bytes.Count(src[:m[0]], []byte("\n")), name, designDoc)
				}
			}
			for _, m := range anchored.FindAllSubmatch(src, -1) {
				if !design.anchors[string(m[1])] {
					t.Errorf("%s: links %s#%s, which has no such heading", f, designDoc, m[1])
				}
			}
		}
	}
	if refs == 0 {
		t.Fatalf("no reference to %s found: the file listing is broken", designDoc)
	}
}

// TestDesignExamples: the examples of the formats in docs/DESIGN.md are
// accepted by the parsers that define them, so the document cannot drift
// from the code unnoticed.
func TestDesignExamples(t *testing.T) {
	root := repoRoot(t)
	b, err := os.ReadFile(filepath.Join(root, designDoc))
	if err != nil {
		t.Fatal(err)
	}
	blocks := codeBlocks(b)
	check := map[string]func([]byte) error{
		"Beacons": func(j []byte) error {
			var bc rum.Beacon
			if _, err := rum.ParseBeacon(j, rum.Bulk, &bc); err != nil {
				return err
			}
			if len(bc.Samples) != 2 || bc.Samples[1].Target != rum.Anycast || bc.Samples[1].ServedBy != "ams" || !bc.ClientSubnet.IsValid() {
				return fmt.Errorf("parsed as %+v", bc)
			}
			// over HTTP the same beacon is refused: it carries client_subnet
			if _, err := rum.ParseBeacon(j, rum.Strict, &bc); err == nil {
				return errors.New("accepted with client_subnet in Strict mode")
			}
			return nil
		},
		"DNS query log": func(j []byte) error {
			var e rum.LogEntry
			if err := rum.ParseLogEntry(bytes.TrimSpace(j), &e); err != nil {
				return err
			}
			if e.Source != rum.SourceECS || e.PoP != "fra" || !e.ECS.IsValid() {
				return fmt.Errorf("parsed as %+v", e)
			}
			return nil
		},
		"Route maps": func(j []byte) error {
			m, err := popmap.Parse(j)
			if err != nil {
				return err
			}
			if m.Meta.Version != 1 || len(m.Entries) != 1 || len(m.Entries[0].Networks) != 2 {
				return fmt.Errorf("parsed as %+v", m)
			}
			return nil
		},
		"Map directory": func(j []byte) error {
			r, err := mapstore.ParseRecord(bytes.TrimSpace(j))
			if err != nil {
				return err
			}
			if r.Version != 2 || r.Previous != 1 {
				return fmt.Errorf("parsed as %+v", r)
			}
			return nil
		},
		"PoP list": func(j []byte) error {
			ts, err := probe.ParseTargets(j)
			if err != nil {
				return err
			}
			if len(ts) != 3 { // two PoPs and the anycast address
				return fmt.Errorf("parsed as %+v", ts)
			}
			return nil
		},
		"Control API": func(j []byte) error {
			dec := json.NewDecoder(bytes.NewReader(j))
			dec.DisallowUnknownFields()
			var s control.State
			if err := dec.Decode(&s); err != nil {
				return err
			}
			if s.Map == nil || s.PoPs["fra"] == nil || s.PoPs["fra"].Admin != "drain" {
				return fmt.Errorf("decoded as %+v", s)
			}
			return nil
		},
	}
	for section, fn := range check {
		var found bool
		for _, blk := range blocks {
			if blk.section != section || blk.lang != "json" {
				continue
			}
			found = true
			if err := fn(blk.text); err != nil {
				t.Errorf("%s, %q, the JSON example at line %d: %v", designDoc, section, blk.line, err)
			}
		}
		if !found {
			t.Errorf("%s: no JSON example under %q", designDoc, section)
		}
	}
}

type codeBlock struct {
	section string // the heading it is under
	lang    string
	line    int
	text    []byte
}

// codeBlocks returns the fenced code blocks of a Markdown document with
// the heading each is under.
func codeBlocks(b []byte) []codeBlock {
	var out []codeBlock
	var cur *codeBlock
	section := ""
	for n, line := range strings.Split(string(b), "\n") {
		if m := fence.FindStringSubmatch(line); m != nil {
			if cur == nil {
				cur = &codeBlock{section: section, lang: strings.TrimSpace(line[strings.Index(line, m[1])+len(m[1]):]), line: n + 1}
			} else {
				out = append(out, *cur)
				cur = nil
			}
			continue
		}
		if cur != nil {
			cur.text = append(append(cur.text, line...), '\n')
			continue
		}
		if m := atxHeading.FindStringSubmatch(line); m != nil {
			section = headingText(m[2])
		}
	}
	return out
}

// repoRoot is the repository root: the test runs in test/.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root %s: %v", root, err)
	}
	return root
}

// repoFiles lists the repository's files matching a base-name pattern,
// relative to root and slash-separated: those git tracks and the new ones
// it does not ignore (what the next commit can hold), present on disk.
// Without git (an exported tree), every file outside hidden directories.
func repoFiles(t *testing.T, root, pattern string) []string {
	t.Helper()
	var out []string
	cmd := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	if b, err := cmd.Output(); err == nil {
		for _, f := range strings.Split(string(b), "\x00") {
			if ok, _ := path.Match(pattern, path.Base(f)); !ok || f == "" {
				continue
			}
			if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(f))); err == nil {
				out = append(out, f)
			}
		}
	} else {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && p != root && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			if ok, _ := path.Match(pattern, d.Name()); ok && !d.IsDir() {
				rel, _ := filepath.Rel(root, p)
				out = append(out, filepath.ToSlash(rel))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// gitIgnored reports which of the paths git ignores (none without git).
// Tracked files are never reported, even when a pattern matches them.
func gitIgnored(t *testing.T, root string, paths []string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	if _, err := exec.LookPath("git"); err != nil {
		return out
	}
	if err := exec.Command("git", "-C", root, "rev-parse", "--git-dir").Run(); err != nil {
		return out
	}
	cmd := exec.Command("git", "-C", root, "check-ignore", "-z", "--stdin")
	cmd.Stdin = strings.NewReader(strings.Join(paths, "\x00") + "\x00")
	b, err := cmd.Output()
	if err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 { // 1: none ignored
			t.Fatalf("git check-ignore: %v", err)
		}
	}
	for _, p := range strings.Split(string(b), "\x00") {
		if p != "" {
			out[p] = true
		}
	}
	return out
}
