package doccheck

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestNamedTestsExist: the docs prove each guarantee by naming its test, so
// a renamed or deleted test must not leave a promise pointing at nothing.
// Every `TestX`, `FuzzX`, `BenchmarkX` or `ExampleX` in code spans of the
// Markdown files must be a function of some _test.go file.
func TestNamedTestsExist(t *testing.T) {
	root := repoRoot(t)
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
// file under root (dependencies and built files left out).
func testFuncs(root string) (map[string]bool, error) {
	fn := regexp.MustCompile(`(?m)^func ((?:Test|Fuzz|Benchmark|Example)\w*)\(`)
	defined := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", "bin", "dist":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range fn.FindAllSubmatch(src, -1) {
			defined[string(m[1])] = true
		}
		return nil
	})
	return defined, err
}
