// Command k8svalues writes deploy/kubernetes/values/generated/ from the
// stack's config files (see package k8svalues). Run from the repository
// root: `make k8s-values`.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"example.com/otelstarter/internal/k8svalues"
)

func main() {
	check := flag.Bool("check", false, "write nothing; exit 1 when a generated file is out of date")
	flag.Parse()
	// The paths are the repository's: `make k8s-values` runs this from its
	// root.
	const root = "."
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		fail(fmt.Errorf("run from the repository root (make k8s-values): %w", err))
	}
	files, err := k8svalues.Generate(root)
	if err != nil {
		fail(err)
	}
	dir := filepath.Join(root, k8svalues.Dir)
	stale := 0
	for _, f := range files {
		path := filepath.Join(dir, f.Name)
		old, _ := os.ReadFile(path)
		if bytes.Equal(old, f.Body) {
			continue
		}
		if *check {
			fmt.Fprintf(os.Stderr, "k8svalues: %s/%s is out of date (run make k8s-values)\n", k8svalues.Dir, f.Name)
			stale++
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			fail(err)
		}
		if err := os.WriteFile(path, f.Body, 0o644); err != nil {
			fail(err)
		}
		fmt.Printf("wrote %s/%s\n", k8svalues.Dir, f.Name)
	}
	if stale > 0 {
		os.Exit(1)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "k8svalues:", err)
	os.Exit(1)
}
