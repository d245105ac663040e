package stacktest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"

	"example.com/otelstarter/internal/testenv"
	"example.com/otelstarter/internal/testproc"
)

// mailpit is a running bin/mailpit: the SMTP server and inbox that
// docker-compose.yml runs, at the version it runs (TestComposeMailpit).
type mailpit struct {
	smtp string // host:port of its SMTP listener
	api  string // base URL of its web UI and API
}

// startMailpit runs bin/mailpit on free loopback ports, its database in the
// test's temporary directory. It returns nil when bin/mailpit is not built:
// the tests that read mail then call missing.
func startMailpit(t *testing.T) (*mailpit, *testproc.Process) {
	t.Helper()
	bin := testproc.RepoPath(t, "bin", "mailpit")
	if _, err := os.Stat(bin); err != nil {
		return nil, nil
	}
	m := &mailpit{smtp: testenv.FreeAddr(t)}
	ui := testenv.FreeAddr(t)
	m.api = "http://" + ui
	// Its database is a SQLite file in TMPDIR unless --database says
	// otherwise; the version check would call api.github.com.
	p := testproc.Start(t, "mailpit", []string{"TMPDIR=" + t.TempDir()}, bin,
		"--smtp", m.smtp, "--listen", ui, "--disable-version-check", "--quiet")
	testproc.WaitFor(t, "mailpit ready", 30*time.Second, func() error { return testproc.HTTPOK(m.api + "/readyz") }, p)
	return m, p
}

// mailpitMessage is the part of a message summary of Mailpit's API
// (GET /api/v1/search) the tests read.
type mailpitMessage struct {
	ID   string
	From struct{ Name, Address string }
	To   []struct{ Name, Address string }
	// Subject and Snippet (the start of the text body).
	Subject, Snippet string
}

// messagesTo returns the messages Mailpit holds for the address to.
func (m *mailpit) messagesTo(ctx context.Context, to string) ([]mailpitMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	status, body, err := testproc.Get(ctx, m.api+"/api/v1/search?"+url.Values{"query": {"to:" + to}}.Encode())
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("mailpit search: %d %s", status, testproc.Tail(string(body), 300))
	}
	var res struct{ Messages []mailpitMessage }
	if err := json.Unmarshal(body, &res); err != nil {
		return nil, fmt.Errorf("mailpit search: %w", err)
	}
	return res.Messages, nil
}
