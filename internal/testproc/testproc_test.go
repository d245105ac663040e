package testproc_test

import (
	"strings"
	"testing"
	"time"

	"example.com/otelstarter/internal/testproc"
)

// TestStartCapturesOutput: a started program's two streams are readable
// while it runs and after it ends.
func TestStartCapturesOutput(t *testing.T) {
	p := testproc.Start(t, "sh/echo", nil, "sh", "-c", "echo to-stdout; echo to-stderr >&2; sleep 0.05")
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the program did not end")
	}
	if err := p.Err(); err != nil {
		t.Fatalf("program: %v", err)
	}
	if got := p.Stdout.String(); strings.TrimSpace(got) != "to-stdout" {
		t.Errorf("stdout %q", got)
	}
	if got := p.Stderr.String(); strings.TrimSpace(got) != "to-stderr" {
		t.Errorf("stderr %q", got)
	}
	if got := p.Output(); !strings.Contains(got, "to-stdout") || !strings.Contains(got, "to-stderr") {
		t.Errorf("Output %q", got)
	}
}
