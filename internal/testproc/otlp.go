package testproc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
)

// PostOTLP sends payload as one OTLP/HTTP JSON request for signal
// ("traces", "logs", "metrics") to base (http://host:port).
func PostOTLP(ctx context.Context, base, signal string, payload any) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/"+signal, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /v1/%s: %s", signal, resp.Status)
	}
	return nil
}

// ReadJSONLines calls each for every non-blank line of a file a collector's
// file exporter writes. A missing file has no lines. When each fails, the
// reading stops without error: the line being written right now may be
// incomplete, and is read next time.
func ReadJSONLines(path string, each func([]byte) error) error {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		if err := each(sc.Bytes()); err != nil {
			return nil
		}
	}
	return sc.Err()
}
