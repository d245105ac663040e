// Package doccheck holds one test, TestLinksResolve, that keeps the
// repository's Markdown honest: every relative link and image in every
// tracked *.md file must name a file that exists, and every #anchor must
// name a heading of its target (or of its own page) as GitHub renders it.
// Moving a section or renaming a heading then breaks `go test ./...`
// instead of a reader's click.
//
// The Markdown is parsed by goldmark with GitHub's extensions, so a link
// written inside a code block or an inline code span is text, as on
// GitHub, and is not checked. External links (http, https, mailto) are
// not fetched: the test needs no network.
//
// The package has no code outside its tests.
package doccheck
