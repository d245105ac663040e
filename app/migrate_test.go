package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"example.com/otelstarter/internal/testenv"
)

// TestMigrateCommand drives app migrate through status, up, up again, down
// and status on both databases, reading what it prints.
func TestMigrateCommand(t *testing.T) {
	for name, newURL := range map[string]func(testing.TB) string{
		"sqlite":   func(tb testing.TB) string { return "sqlite:" + filepath.Join(tb.TempDir(), "blog.db") },
		"postgres": testenv.PostgresURL,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"DATABASE_URL": newURL(t)}
			migrate := func(cmd string) string {
				t.Helper()
				var stdout, stderr bytes.Buffer
				if err := run(t.Context(), []string{"migrate", cmd}, func(k string) string { return env[k] }, &stdout, &stderr); err != nil {
					t.Fatalf("app migrate %s: %v\n%s", cmd, err, stderr.String())
				}
				return stdout.String()
			}
			expect := func(out string, patterns ...string) {
				t.Helper()
				for _, p := range patterns {
					if !regexp.MustCompile(`(?m)` + p).MatchString(out) {
						t.Errorf("output has no line matching %q:\n%s", p, out)
					}
				}
			}

			expect(migrate("status"), `^app: pending\s+00001_init\.sql$`, `^river: version 0 of [1-9]\d*$`)
			expect(migrate("up"), `^app: OK\s+up 00001_init\.sql \(`, `^river: applied 1 2 3 `)
			expect(migrate("up"), `^app: no pending migration$`, `^river: no pending migration$`)
			status := migrate("status")
			expect(status, `^app: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+00001_init\.sql$`)
			river := regexp.MustCompile(`(?m)^river: version (\d+) of (\d+)$`).FindStringSubmatch(status)
			if river == nil || river[1] != river[2] {
				t.Errorf("River's version after up: %q, want the latest", river)
			}
			expect(migrate("down"), `^app: OK\s+down 00001_init\.sql \(`, `^river: left as it is`)
			// River's migrations stay applied; the app's table is gone.
			expect(migrate("status"), `^app: pending\s+00001_init\.sql$`, `^river: version `+river[1]+` of `)
		})
	}
}

func TestMigrateUsage(t *testing.T) {
	for _, args := range [][]string{{"migrate"}, {"migrate", "sideways"}, {"migrate", "up", "now"}} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), args, func(string) string { return "" }, &stdout, &stderr)
		if !errors.Is(err, errUsage) {
			t.Errorf("app %s: %v, want a usage error", strings.Join(args, " "), err)
		}
		if !strings.Contains(stderr.String(), "usage: app migrate up | down | status") || stdout.Len() != 0 {
			t.Errorf("app %s: stdout %q, stderr %q; want the usage on stderr", strings.Join(args, " "), stdout.String(), stderr.String())
		}
	}
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"migrate", "-h"}, func(string) string { return "" }, &stdout, io.Discard); err != nil || !strings.Contains(stdout.String(), "River") {
		t.Errorf("app migrate -h: %v, %q; want the usage on stdout", err, stdout.String())
	}
}

func TestMigrateBadDatabaseURL(t *testing.T) {
	env := map[string]string{"DATABASE_URL": "mysql://root:hunter2@db/blog"}
	err := run(context.Background(), []string{"migrate", "status"}, func(k string) string { return env[k] }, io.Discard, io.Discard)
	if err == nil || errors.Is(err, errUsage) || !strings.Contains(err.Error(), "DATABASE_URL") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("app migrate status with a MySQL URL: %v; want an error naming DATABASE_URL, without the password", err)
	}
}
