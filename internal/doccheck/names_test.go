package doccheck

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"example.com/otelstarter/internal/testproc"
)

// TestNamedTestsExist: the docs prove each guarantee by naming its test, so
// a renamed or deleted test must not leave a promise pointing at nothing.
// Every `TestX`, `FuzzX`, `BenchmarkX` or `ExampleX` in code spans of the
// Markdown files must be a function of some _test.go file.
func TestNamedTestsExist(t *testing.T) {
	root := testproc.RepoRoot(t)
	files, err := markdownFiles(root)
	if err != nil {
		t.Fatal(err)
	}
	defined, err := testFuncs(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(defined) < 100 {
		t.Fatalf("found %d test functions under %s, want the whole repository's", len(defined), root)
	}
	named := regexp.MustCompile("`((?:Test|Fuzz|Benchmark|Example)[A-Z][A-Za-z0-9_]*)`")
	checked := 0
	for _, f := range files {
		src, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(src), "\n") {
			for _, m := range named.FindAllStringSubmatch(line, -1) {
				checked++
				if !defined[m[1]] {
					t.Errorf("%s:%d: %s: no _test.go file defines it", f, i+1, m[1])
				}
			}
		}
	}
	if checked == 0 {
		t.Error("no test named in any Markdown file: the pattern no longer matches how the docs name them")
	}
}

// testFuncs returns the names of the top-level functions of every _test.go
// file under root.
func testFuncs(root string) (map[string]bool, error) {
	files, err := testproc.RepoFiles(root, "_test.go")
	if err != nil {
		return nil, err
	}
	fn := regexp.MustCompile(`(?m)^func ((?:Test|Fuzz|Benchmark|Example)\w*)\(`)
	defined := map[string]bool{}
	for _, f := range files {
		src, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			return nil, err
		}
		for _, m := range fn.FindAllSubmatch(src, -1) {
			defined[string(m[1])] = true
		}
	}
	return defined, nil
}
