package doccheck

import (
	"bytes"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"

	"example.com/otelstarter/internal/testproc"
)

// TestLinksResolve checks every relative link and anchor of the
// repository's Markdown files.
func TestLinksResolve(t *testing.T) {
	root := testproc.RepoRoot(t)
	files, err := markdownFiles(root)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(files, "README.md") {
		t.Fatalf("found %d Markdown files under %s, README.md not among them", len(files), root)
	}
	problems, err := checkLinks(os.DirFS(root), files)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// markdownFiles lists the *.md files git knows of (tracked, or new and not
// ignored), relative to root and slash-separated. Outside a git checkout
// (a copy of the tracked files, say) it walks the tree instead, leaving
// out what is never documentation: dependencies and built files.
func markdownFiles(root string) ([]string, error) {
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "*.md")
	cmd.Dir = root
	if out, err := cmd.Output(); err == nil {
		var files []string
		for f := range strings.SplitSeq(strings.TrimRight(string(out), "\x00"), "\x00") {
			// A file deleted but not yet staged is still listed.
			if _, err := os.Stat(filepath.Join(root, f)); f != "" && err == nil {
				files = append(files, f)
			}
		}
		return files, nil
	}
	return testproc.RepoFiles(root, ".md")
}

// markdown parses as GitHub does for links: CommonMark plus tables,
// strikethrough, task lists and bare URLs.
var markdown = goldmark.New(goldmark.WithExtensions(extension.GFM)).Parser()

// A link is the destination of one Markdown link or image and the line it
// starts on.
type link struct {
	line int
	dest string
}

// page is what a Markdown file offers to the checker: its links, and the
// anchors its headings get.
type page struct {
	links   []link
	anchors map[string]bool
}

func parsePage(src []byte) page {
	doc := markdown.Parse(text.NewReader(src))
	p := page{anchors: map[string]bool{}}
	seen := map[string]int{}
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Heading:
			p.anchors[uniqueSlug(seen, headingText(n, src))] = true
		case *ast.Link:
			p.links = append(p.links, link{lineOf(src, n), string(n.Destination)})
		case *ast.Image:
			p.links = append(p.links, link{lineOf(src, n), string(n.Destination)})
		}
		return ast.WalkContinue, nil
	})
	return p
}

// lineOf is the 1-based line where n starts: the parser records the offset
// of a link's "[" (or an image's "!["); the enclosing block's first line is
// the fallback.
func lineOf(src []byte, n ast.Node) int {
	off := n.Pos()
	for b := n; off < 0 && b != nil; b = b.Parent() {
		if b.Type() == ast.TypeBlock && b.Lines().Len() > 0 {
			off = b.Lines().At(0).Start
		}
	}
	if off < 0 {
		return 0
	}
	return bytes.Count(src[:off], []byte("\n")) + 1
}

// headingText is a heading's text as a reader sees it: code spans keep
// their content, emphasis and links their words, raw HTML is dropped.
func headingText(h ast.Node, src []byte) string {
	var b strings.Builder
	var walk func(ast.Node)
	walk = func(n ast.Node) {
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			switch c := c.(type) {
			case *ast.Text:
				b.Write(c.Segment.Value(src))
				if c.SoftLineBreak() || c.HardLineBreak() {
					b.WriteByte(' ')
				}
			case *ast.String:
				b.Write(c.Value)
			case *ast.AutoLink:
				b.Write(c.Label(src))
			case *ast.RawHTML:
			default:
				walk(c)
			}
		}
	}
	walk(h)
	return b.String()
}

// slug is the anchor GitHub gives a heading: lowercased, every space a
// dash, and every character other than a letter, a digit, a combining
// mark, "-" or "_" dropped.
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-', r == '_', unicode.IsLetter(r), unicode.IsDigit(r), unicode.In(r, unicode.Mn, unicode.Mc, unicode.Nd, unicode.Pc):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// uniqueSlug is slug with GitHub's rule for repeated headings: the second
// "Usage" is "usage-1", the third "usage-2".
func uniqueSlug(seen map[string]int, heading string) string {
	base := slug(heading)
	s := base
	for seen[s] > 0 {
		s = fmt.Sprintf("%s-%d", base, seen[base])
		seen[base]++
	}
	seen[s]++
	return s
}

// checkLinks parses files (slash paths in fsys) and returns one
// "file:line: link: reason" per relative link or anchor that leads
// nowhere.
func checkLinks(fsys fs.FS, files []string) ([]string, error) {
	pages := map[string]page{}
	load := func(name string) (page, error) {
		if p, ok := pages[name]; ok {
			return p, nil
		}
		src, err := fs.ReadFile(fsys, name)
		if err != nil {
			return page{}, err
		}
		p := parsePage(src)
		pages[name] = p
		return p, nil
	}

	var problems []string
	for _, file := range files {
		p, err := load(file)
		if err != nil {
			return nil, err
		}
		for _, l := range p.links {
			if reason := checkLink(fsys, file, l.dest, load); reason != "" {
				problems = append(problems, fmt.Sprintf("%s:%d: %s: %s", file, l.line, l.dest, reason))
			}
		}
	}
	return problems, nil
}

// checkLink returns why dest, linked from file, leads nowhere, or "".
func checkLink(fsys fs.FS, file, dest string, load func(string) (page, error)) string {
	u, err := url.Parse(dest)
	if err != nil {
		return "not a valid URL: " + err.Error()
	}
	if u.Scheme != "" || u.Host != "" {
		return "" // external (http, https, mailto, …): not fetched
	}
	target := file
	if u.Path != "" {
		if strings.HasPrefix(u.Path, "/") {
			target = path.Clean(strings.TrimPrefix(u.Path, "/")) // GitHub: from the repository's root
		} else {
			target = path.Join(path.Dir(file), u.Path)
		}
		if target == ".." || strings.HasPrefix(target, "../") {
			return "outside the repository"
		}
		info, err := fs.Stat(fsys, target)
		if err != nil {
			return "no such file " + target
		}
		if info.IsDir() || !strings.HasSuffix(target, ".md") {
			return "" // an anchor into a folder or a source file (#L10) is GitHub's business
		}
	}
	if u.Fragment == "" {
		return ""
	}
	p, err := load(target)
	if err != nil {
		return "cannot read " + target + ": " + err.Error()
	}
	if !p.anchors[u.Fragment] {
		if want := slug(u.Fragment); want != u.Fragment && p.anchors[want] {
			return fmt.Sprintf("anchors are lowercase slugs: write #%s", want)
		}
		return fmt.Sprintf("no heading of %s has the anchor #%s", target, u.Fragment)
	}
	return ""
}

func TestSlug(t *testing.T) {
	for _, tt := range []struct{ heading, want string }{
		{"Quick start", "quick-start"},
		{"Using telemetry/ in your own service", "using-telemetry-in-your-own-service"},
		{"6. The welcome email's job, per registration", "6-the-welcome-emails-job-per-registration"},
		{"1. Throughput and latency: telemetry exporting vs OTEL_SDK_DISABLED", "1-throughput-and-latency-telemetry-exporting-vs-otel_sdk_disabled"},
		{"Background jobs, outbound calls and the feed: one trace across processes",
			"background-jobs-outbound-calls-and-the-feed-one-trace-across-processes"},
		{"Gateway: telemetrygen → gateway → sampler → sink", "gateway-telemetrygen--gateway--sampler--sink"},
		{"Logs & errors", "logs--errors"},
		{"DNS or k8s resolver", "dns-or-k8s-resolver"},
		{"  Trimmed  ", "trimmed"},
		{"Ünïcode Überschrift", "ünïcode-überschrift"},
		{"snake_case and kebab-case", "snake_case-and-kebab-case"},
		{"What? (Really!) #1", "what-really-1"},
	} {
		if got := slug(tt.heading); got != tt.want {
			t.Errorf("slug(%q) = %q, want %q", tt.heading, got, tt.want)
		}
	}
}

func TestRepeatedHeadingsAreNumbered(t *testing.T) {
	p := parsePage([]byte("# Usage\n\n## Usage\n\n### Usage\n\n## Other\n"))
	for _, want := range []string{"usage", "usage-1", "usage-2", "other"} {
		if !p.anchors[want] {
			t.Errorf("no anchor %q in %v", want, p.anchors)
		}
	}
	if len(p.anchors) != 4 {
		t.Errorf("anchors = %v, want 4", p.anchors)
	}
}

func TestHeadingTextIsWhatAReaderSees(t *testing.T) {
	p := parsePage([]byte("## Using `telemetry/` in *your* [own](x.md) <em>service</em>\n\nSetext heading\n---\n"))
	for _, want := range []string{"using-telemetry-in-your-own-service", "setext-heading"} {
		if !p.anchors[want] {
			t.Errorf("no anchor %q in %v", want, p.anchors)
		}
	}
}

func TestLinkExtraction(t *testing.T) {
	src := strings.Join([]string{
		"# Title", // 1
		"",        // 2
		"A [link](docs/a.md) and ![img](pic.png).", // 3
		"`[not a link](code.md)` in inline code.",  // 4
		"",                                   // 5
		"```md",                              // 6
		"[fenced](fenced.md)",                // 7
		"```",                                // 8
		"",                                   // 9
		"    [indented](indented.md)",        // 10
		"",                                   // 11
		"| a | b |",                          // 12
		"|---|---|",                          // 13
		"| [cell](t.md#x) | `[no](no.md)` |", // 14
		"",                                   // 15
		"A [reference][ref] and <https://x.org>,",   // 16: an autolink is external by nature
		"and [external](https://example.com/a.md).", // 17
		"Across a line: [wrapped",                   // 18
		"text](#title).",                            // 19
		"",                                          // 20
		"[ref]: ref.md",                             // 21
	}, "\n")
	got := parsePage([]byte(src)).links
	want := []link{
		{3, "docs/a.md"}, {3, "pic.png"}, {14, "t.md#x"}, {16, "ref.md"},
		{17, "https://example.com/a.md"}, {18, "#title"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("links:\n got %v\nwant %v", got, want)
	}
}

func TestCheckReportsEachBrokenLink(t *testing.T) {
	dir := t.TempDir()
	fsys := os.DirFS(dir)
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("README.md", strings.Join([]string{
		"# Kit",
		"## Tests",
		"[ok](docs/guide.md) [ok](docs/guide.md#setup-1) [ok](#tests) [ok](docs/) [ok](/docs/guide.md#setup)",
		"[ok](main.go#L3) [ok](https://example.com/missing.md) [ok](mailto:a@example.com)",
		"[gone](docs/missing.md)",
		"[bad anchor](docs/guide.md#nowhere)",
		"[own page](#nothing-here)",
		"[case](#Tests)",
		"[escape](../outside.md)",
		"`[ignored](docs/missing.md)`",
	}, "\n"))
	write("main.go", "package main\n")
	write("docs/guide.md", "# Guide\n## Setup\n## Setup\n[back](../README.md#kit)\n")

	got, err := checkLinks(fsys, []string{"README.md", "docs/guide.md"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"README.md:5: docs/missing.md: no such file docs/missing.md",
		"README.md:6: docs/guide.md#nowhere: no heading of docs/guide.md has the anchor #nowhere",
		"README.md:7: #nothing-here: no heading of README.md has the anchor #nothing-here",
		"README.md:8: #Tests: anchors are lowercase slugs: write #tests",
		"README.md:9: ../outside.md: outside the repository",
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n got %q\nwant %q", got, want)
	}
}
