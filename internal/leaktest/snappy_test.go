package leaktest

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestSnappyBody checks that the recorder decodes a remote-write body:
// testdata/snappy/remote-write.snappy, written by github.com/golang/snappy's
// Encode from the text below, decodes to that text, and truncated input is
// refused (it would otherwise hide a body from the search).
func TestSnappyBody(t *testing.T) {
	var sb strings.Builder
	for i := 0; i < 800; i++ {
		fmt.Fprintf(&sb, "http_server_request_duration_seconds_bucket{le=\"%d\",route=\"/api/posts/{id}\"} %d\n", i%17, i*7919%1000)
	}
	for i := 0; i < 300; i++ {
		fmt.Fprintf(&sb, "k%d=v%d;", i*31%97, i%13)
	}
	enc, err := os.ReadFile("testdata/snappy/remote-write.snappy")
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeBody("snappy", enc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, []byte(sb.String())) {
		t.Fatalf("decoded %d bytes that differ from the %d encoded", len(got), sb.Len())
	}
	for _, n := range []int{0, 1, 2, len(enc) / 2, len(enc) - 1} {
		if _, err := decodeBody("snappy", enc[:n]); err == nil {
			t.Errorf("a truncated input (%d of %d bytes) decoded without error", n, len(enc))
		}
	}
}
