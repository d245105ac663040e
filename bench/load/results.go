package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// resultsTitle opens a RESULTS.md that did not exist yet.
const resultsTitle = "# Benchmark results\n\n" +
	"Written by `make bench` (micro-benchmarks of telemetry/) and `make load` (the real app under load);\n" +
	"each target rewrites only its own section. See bench/README.md.\n"

// mergeSection returns doc with the section called name replaced by body.
// A section is the text between "<!-- name:start -->" and "<!-- name:end -->"
// lines; when doc has none, the section is appended, so `make bench` and
// `make load` never overwrite each other's results.
func mergeSection(doc, name, body string) (string, error) {
	start, end := "<!-- "+name+":start -->", "<!-- "+name+":end -->"
	section := start + "\n" + strings.TrimSpace(body) + "\n" + end
	i, j := strings.Index(doc, start), strings.Index(doc, end)
	switch {
	case i < 0 && j < 0:
		if strings.TrimSpace(doc) == "" {
			doc = resultsTitle
		}
		return strings.TrimRight(doc, "\n") + "\n\n" + section + "\n", nil
	case i < 0 || j < i:
		return "", fmt.Errorf("section %q: markers missing or out of order", name)
	}
	return doc[:i] + section + doc[j+len(end):], nil
}

// writeSection merges body into the file at path as section name.
func writeSection(path, name, body string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	doc, err := mergeSection(string(old), name, body)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, []byte(doc), 0o644)
}

// machine describes where the figures were measured: they mean little
// without it.
func machine() string {
	arch := runtime.GOARCH
	if out, err := exec.Command("uname", "-m").Output(); err == nil {
		arch = strings.TrimSpace(string(out))
	}
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("Machine: `%s`, %s, %d cores (GOMAXPROCS %d), %s, %s",
		arch, cpu, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), time.Now().UTC().Format("2006-01-02 15:04 MST"))
}
