package sqlstore

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"
)

// acceptedForms is repeated in every error about DATABASE_URL so that the
// person reading it knows what to write instead.
const acceptedForms = "postgres://user:password@host:5432/dbname?sslmode=disable, postgresql://… or sqlite:PATH (sqlite::memory: for a throwaway database)"

// URLError is a DATABASE_URL that this package cannot open. Reason says
// what is wrong and what to write instead, and never quotes the URL's
// password.
type URLError struct {
	Reason string
}

func (e *URLError) Error() string { return "sqlstore: DATABASE_URL: " + e.Reason }

func urlError(format string, args ...any) error {
	return &URLError{Reason: fmt.Sprintf(format, args...)}
}

// CheckURL reports whether [Open] accepts the form of databaseURL, without
// touching the file system or the network: the one check of DATABASE_URL,
// which config runs at start so that a mistake stops the service before
// anything else starts. Its error is a *[URLError].
func CheckURL(databaseURL string) error {
	_, err := parseDatabaseURL(databaseURL)
	return err
}

// target is a parsed DATABASE_URL.
type target struct {
	dialect    *dialect
	dsn        string   // what the driver opens
	secrets    []string // strings that must never appear in an error
	sqlitePath string   // the file of a SQLite database
}

// parseDatabaseURL picks the dialect for raw and builds the driver's DSN.
// Its errors are *URLError: they name DATABASE_URL and never quote raw,
// which may hold a password. It has no side effects; Open creates the
// directory of a SQLite file.
func parseDatabaseURL(raw string) (target, error) {
	switch {
	case strings.HasPrefix(raw, "sqlite:"):
		return parseSQLite(strings.TrimPrefix(raw, "sqlite:"))
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		return parsePostgres(raw)
	case strings.TrimSpace(raw) == "":
		return target{}, urlError("empty; accepted forms: %s", acceptedForms)
	}
	// Only the scheme is quoted: the rest may hold a password.
	scheme, _, ok := strings.Cut(raw, ":")
	if !ok || strings.ContainsAny(scheme, "/@ \t") {
		return target{}, urlError("no recognised scheme; accepted forms: %s", acceptedForms)
	}
	return target{}, urlError("scheme %q is not supported; accepted forms: %s", scheme, acceptedForms)
}

func parsePostgres(raw string) (target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the whole URL, password included, so say only
		// what kind of mistake it is.
		return target{}, urlError("not a valid URL (%s); accepted forms: %s", urlProblem(err), acceptedForms)
	}
	t := target{dialect: postgresDialect, dsn: raw}
	if pw, ok := u.User.Password(); ok && pw != "" {
		t.secrets = append(t.secrets, pw, url.QueryEscape(pw), url.PathEscape(pw))
	}
	for _, pw := range u.Query()["password"] { // libpq accepts ?password=
		if pw != "" {
			t.secrets = append(t.secrets, pw, url.QueryEscape(pw))
		}
	}
	// The driver parses the URL only when it connects, where a mistake
	// would pass for an unreachable server. Its message is redacted on a
	// best-effort basis only, so it is redacted again and not wrapped.
	if _, err := pgx.ParseConfig(raw); err != nil {
		return target{}, &URLError{Reason: "invalid: " + redactString(err.Error(), t.secrets)}
	}
	return t, nil
}

// urlProblem names the problem url.Parse found without quoting the input.
func urlProblem(err error) string {
	var uerr *url.Error
	if !errors.As(err, &uerr) {
		return "unparsable"
	}
	msg := uerr.Err.Error()
	switch {
	case strings.HasPrefix(msg, "invalid port"):
		return "invalid port"
	case strings.HasPrefix(msg, "invalid URL escape"):
		return "invalid %-escape; percent-encode special characters in the password"
	case strings.Contains(msg, "control character"):
		return "control character"
	case strings.Contains(msg, "userinfo"):
		return "invalid user or password"
	case strings.Contains(msg, "host"):
		return "invalid host"
	}
	return "unparsable"
}

// sqlitePragmas apply to every connection. busy_timeout and foreign_keys are
// per connection in SQLite, hence the DSN rather than a one-off PRAGMA.
var sqlitePragmas = []string{
	"journal_mode(WAL)",   // readers do not block the writer
	"busy_timeout(5000)",  // wait for a lock held by another process instead of failing
	"foreign_keys(1)",     // off by default in SQLite
	"synchronous(NORMAL)", // safe with WAL; saves an fsync per commit
}

func parseSQLite(path string) (target, error) {
	switch {
	case path == "":
		return target{}, urlError("sqlite: needs a file path, as in sqlite:data/blog.db; accepted forms: %s", acceptedForms)
	case strings.HasPrefix(path, "//"):
		// sqlite://x is read as host x by some tools and as path //x by
		// others; refuse to guess.
		return target{}, urlError("must be sqlite:PATH without //, as in sqlite:data/blog.db or sqlite:/var/lib/blog/blog.db")
	case strings.ContainsAny(path, "?#\x00"):
		return target{}, urlError("sqlite:PATH must not contain ?, # or NUL: the options are set by the application")
	}

	q := url.Values{}
	for _, p := range sqlitePragmas {
		q.Add("_pragma", p)
	}
	// Times are stored as integer microseconds since the epoch in UTC: they
	// sort and compare as numbers and keep PostgreSQL's precision.
	q.Set("_time_integer_format", "unix_micro")
	// BEGIN IMMEDIATE takes the write lock at once, so a transaction that
	// reads and then writes waits for busy_timeout instead of failing with
	// SQLITE_BUSY when another writer got in between.
	q.Set("_txlock", "immediate")

	// Without the file: prefix SQLite takes path literally and the driver
	// strips the query, so no character of path has a URI meaning.
	return target{dialect: sqliteDialect, dsn: path + "?" + q.Encode(), sqlitePath: path}, nil
}

// prepare creates the directory of a SQLite file, which SQLite does not.
func (t target) prepare() error {
	if t.sqlitePath == "" || t.sqlitePath == ":memory:" {
		return nil
	}
	if dir := filepath.Dir(t.sqlitePath); dir != "." {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("sqlstore: DATABASE_URL sqlite:%s: create directory: %w", t.sqlitePath, err)
		}
	}
	return nil
}

// redactedError hides secrets in the message of err and keeps err in the
// chain for errors.Is and errors.As.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redact returns err with every secret replaced in its message.
func redact(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if clean := redactString(msg, secrets); clean != msg {
		return &redactedError{msg: clean, err: err}
	}
	return err
}

// redactString returns s with every secret replaced.
func redactString(s string, secrets []string) string {
	for _, secret := range secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "xxxxx")
		}
	}
	return s
}
