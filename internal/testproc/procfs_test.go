package testproc_test

import (
	"os"
	"testing"

	"example.com/otelstarter/internal/testproc"
)

func TestProcfs(t *testing.T) {
	pid := os.Getpid()
	if rss, err := testproc.RSS(pid); err != nil || rss < 1<<20 {
		t.Errorf("RSS of the test = %d, %v", rss, err)
	}
	if _, err := testproc.CPUTime(pid); err != nil {
		t.Errorf("CPU time of the test: %v", err)
	}
}
