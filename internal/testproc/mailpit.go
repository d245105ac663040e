package testproc

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
)

// Mailpit is a running bin/mailpit (`make bin/mailpit`, at the version
// docker-compose.yml runs): an SMTP server and an inbox with an HTTP API.
type Mailpit struct {
	SMTP string // host:port of the SMTP listener
	API  string // base URL of the web UI and API
	*Process
	args []string
	bin  string
	tb   testing.TB
}

// StartMailpit runs bin/mailpit on free loopback ports, its database in the
// test's temporary directory, with Mailpit's flags args added. Without
// bin/mailpit the test fails in CI and is skipped, loudly, elsewhere.
// Under -short (make test) it is skipped: make test-all runs it.
func StartMailpit(tb testing.TB, args ...string) *Mailpit {
	tb.Helper()
	SkipShort(tb, "Mailpit")
	bin := RepoPath(tb, "bin", "mailpit")
	if _, err := os.Stat(bin); err != nil {
		testenv.Missing(tb, "Mailpit bin/mailpit (build it with `make bin/mailpit`)", "PATH", err)
	}
	m := &Mailpit{bin: bin, tb: tb}
	db := tb.TempDir() + "/mailpit.db"
	// Mailpit logs the addresses it was given, not the ports it bound, and
	// Restart needs the same ones again: ports picked in advance, picked
	// anew when one was taken meanwhile.
	m.Process = StartOnFreePorts(tb, "mailpit", 30*time.Second, func() (*Process, func() error) {
		m.SMTP = testenv.FreeAddr(tb)
		ui := testenv.FreeAddr(tb)
		m.API = "http://" + ui
		// --disable-version-check: the check would call api.github.com.
		m.args = append([]string{"--smtp", m.SMTP, "--listen", ui, "--database", db,
			"--disable-version-check", "--quiet"}, args...)
		p := Start(tb, "mailpit", nil, m.bin, m.args...)
		return p, m.ready
	})
	return m
}

// Restart starts Mailpit again on the same ports after Stop, with the
// messages it held.
func (m *Mailpit) Restart() {
	m.tb.Helper()
	m.Process = Start(m.tb, "mailpit", nil, m.bin, m.args...)
	WaitFor(m.tb, "mailpit ready", 30*time.Second, m.ready, m.Process)
}

func (m *Mailpit) ready() error { return HTTPOK(m.API + "/readyz") }

// MailpitMessage is the part of a message of Mailpit's API the tests read.
// Lists (summaries) leave Text and HTML empty; [Mailpit.Message] fills them.
type MailpitMessage struct {
	ID      string
	From    struct{ Name, Address string }
	To      []struct{ Name, Address string }
	Subject string
	Snippet string // the start of the text body
	Text    string
	HTML    string
}

// MessagesTo returns the messages Mailpit holds for the address to
// (GET /api/v1/search).
func (m *Mailpit) MessagesTo(ctx context.Context, to string) ([]MailpitMessage, error) {
	var res struct{ Messages []MailpitMessage }
	if err := m.getJSON(ctx, "/api/v1/search?"+url.Values{"query": {"to:" + to}}.Encode(), &res); err != nil {
		return nil, err
	}
	return res.Messages, nil
}

// WaitForMessageTo waits up to timeout for a message to the address to and
// returns it.
func (m *Mailpit) WaitForMessageTo(tb testing.TB, to string, timeout time.Duration, procs ...*Process) MailpitMessage {
	tb.Helper()
	var got MailpitMessage
	WaitFor(tb, "a message in Mailpit", timeout, func() error {
		msgs, err := m.MessagesTo(context.Background(), to)
		if err != nil {
			return err
		}
		if len(msgs) == 0 {
			return fmt.Errorf("no message yet")
		}
		got = msgs[0]
		return nil
	}, append(procs, m.Process)...)
	return got
}

// Messages returns the summaries of every message Mailpit holds, newest
// first (GET /api/v1/messages).
func (m *Mailpit) Messages(ctx context.Context) ([]MailpitMessage, error) {
	var res struct{ Messages []MailpitMessage }
	if err := m.getJSON(ctx, "/api/v1/messages?limit=500", &res); err != nil {
		return nil, err
	}
	return res.Messages, nil
}

// Message returns message id whole, its bodies included
// (GET /api/v1/message/{id}).
func (m *Mailpit) Message(ctx context.Context, id string) (MailpitMessage, error) {
	var msg MailpitMessage
	err := m.getJSON(ctx, "/api/v1/message/"+url.PathEscape(id), &msg)
	return msg, err
}

func (m *Mailpit) getJSON(ctx context.Context, path string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	status, body, err := Get(ctx, m.API+path)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("mailpit %s: %d %s", path, status, Tail(string(body), 300))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("mailpit %s: %w", path, err)
	}
	return nil
}
