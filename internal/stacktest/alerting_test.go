package stacktest

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the app's SQLite driver, to break the app's database under it

	"example.com/otelstarter/internal/testenv"
	"example.com/otelstarter/internal/testproc"
)

// TestAlertsReachAPerson is the alerting path, live: the app with Redis,
// scraped by the real Prometheus with the shipped rules, notifying the real
// Alertmanager with the shipped routing and templates, whose email receivers
// deliver to a real Mailpit. Only the test's own settings are shorter: the
// scrape and evaluation intervals, and each rule's `for` (copied rules,
// thresholds untouched); the SMTP server is the test's Mailpit.
//
//  1. Redis killed: DependencyDown reaches the pager's inbox, with its
//     runbook and dashboard links; Redis back: the resolved notification.
//  2. A burst of 5xx: the availability burn-rate page arrives.
//  3. The app killed: BlogAPIDown arrives, and the burn-rate alert, still
//     firing, is inhibited by it.
//
// It logs the time from each failure to its notification; docs/stack.md
// quotes them.
func TestAlertsReachAPerson(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prometheus, Alertmanager, Mailpit, Redis and the app; run without -short")
	}
	promBin := stackProgram(t, "prometheus")
	appBin := testproc.BuildApp(t)
	dir := t.TempDir()
	mail := testproc.StartMailpit(t)
	redisAddr, stopRedis, startRedis := redisProcess(t)

	// Alertmanager: the shipped routing, timings and templates; the email
	// goes to this test's Mailpit instead of the compose service.
	amCfg := shippedAlertmanagerConfig(t)
	amCfg["global"].(map[string]any)["smtp_smarthost"] = mail.SMTP
	am := startAlertmanager(t, writeYAMLFile(t, amCfg))
	amAddr := strings.TrimPrefix(am.URL, "http://")

	// The app.
	dbPath := filepath.Join(dir, "blog.db")
	app := testproc.StartAppEnv(t, "app", []string{
		"PATH=" + os.Getenv("PATH"),
		"DATABASE_URL=sqlite:" + dbPath,
		"REDIS_URL=redis://" + redisAddr + "/0",
		"FRONTEND_DIR=" + filepath.Join(dir, "none"),
		"OTEL_SERVICE_NAME=blog-api",
		"LOG_LEVEL=info", // http.listening says where it listens
	}, appBin)
	base := app.URL
	testproc.WaitFor(t, "app ready", 60*time.Second, func() error { return testproc.HTTPOK(base + "/readyz") }, app.Process)

	// Prometheus: the shipped rules with short `for`s, every second.
	rulesDir := filepath.Join(dir, "rules")
	copyRulesWithShortFor(t, rulesDir, "5s")
	promCfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - %s/*.yml
alerting:
  alertmanagers:
    - static_configs:
        - targets: [%q]
scrape_configs:
  - job_name: blog-api
    static_configs:
      - targets: [%q]
`, rulesDir, amAddr, app.AdminAddr)
	promCfgPath := filepath.Join(dir, "prometheus.yml")
	writeFile(t, promCfgPath, promCfg)
	prom, promAddr := testproc.StartPromServer(t, "prometheus", promBin,
		"--config.file="+promCfgPath,
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
	)
	testproc.WaitFor(t, "prometheus ready", 60*time.Second, func() error { return testproc.HTTPOK("http://" + promAddr + "/-/ready") }, prom)
	procs := []*testproc.Process{am.Process, app.Process, prom, mail.Process}

	// Traffic, so that the SLO's ratios have a denominator.
	stopTraffic := steadyTraffic(t, base+"/api/posts")
	defer stopTraffic()
	time.Sleep(5 * time.Second)

	// 1. Redis down, then back.
	failed := time.Now()
	stopRedis()
	firing := waitForNotification(t, mail, "DependencyDown", "firing", 3*time.Minute, procs...)
	t.Logf("Redis killed → DependencyDown in the pager's inbox: %s", firing.Sub(failed).Round(time.Second))
	text := notificationText(t, mail, "DependencyDown", "firing")
	for _, want := range []string{"docs/runbooks/DependencyDown.md", "/d/", "/explore"} {
		if !strings.Contains(text, want) {
			t.Errorf("the DependencyDown notification lacks %q:\n%s", want, text)
		}
	}
	recovered := time.Now()
	startRedis()
	resolved := waitForNotification(t, mail, "DependencyDown", "resolved", 5*time.Minute, procs...)
	t.Logf("Redis back → DependencyDown resolved in the inbox: %s", resolved.Sub(recovered).Round(time.Second))

	// 2. A burst of 5xx: the posts table goes away under the app.
	db, err := sql.Open("sqlite", "file:"+dbPath+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DROP TABLE posts`); err != nil {
		t.Fatal(err)
	}
	failed = time.Now()
	page := waitForNotification(t, mail, "BlogAPIAvailabilityBurnRate", "firing", 3*time.Minute, procs...)
	t.Logf("5xx from every request → availability burn-rate page in the inbox: %s", page.Sub(failed).Round(time.Second))

	// 3. The app down: BlogAPIDown, and the burn-rate alert (its windows
	// still hold the 5xx) is inhibited by it.
	stopTraffic()
	app.Kill()
	failed = time.Now()
	down := waitForNotification(t, mail, "BlogAPIDown", "firing", 3*time.Minute, am.Process, prom, mail.Process)
	t.Logf("app killed → BlogAPIDown in the inbox: %s", down.Sub(failed).Round(time.Second))
	testproc.WaitFor(t, "the burn-rate alerts inhibited by BlogAPIDown", time.Minute, func() error {
		burning := am.alerts(t, `alertname="BlogAPIAvailabilityBurnRate"`)
		if len(burning) == 0 {
			return fmt.Errorf("no burn-rate alert in Alertmanager")
		}
		for _, a := range burning {
			if a.Status.State != "suppressed" || len(a.Status.InhibitedBy) == 0 {
				return fmt.Errorf("a burn-rate alert is %s, inhibited by %v", a.Status.State, a.Status.InhibitedBy)
			}
		}
		return nil
	}, am.Process)
}

// redisProcess runs a redis-server of the test's own, which it can kill.
// redis-server cannot report a port of its choosing (--port 0 turns TCP
// off) and starts again on the same one: the port is picked in advance,
// and picked anew when another program took it first.
func redisProcess(t *testing.T) (addr string, stop, start func()) {
	t.Helper()
	bin := needProgram(t, "redis-server", "apt-get install -y redis-server")
	var p *testproc.Process
	run := func() (*testproc.Process, func() error) {
		_, port, _ := net.SplitHostPort(addr)
		p = testproc.Start(t, "redis", nil, bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
		return p, func() error {
			c, err := net.Dial("tcp", addr)
			if err == nil {
				c.Close()
			}
			return err
		}
	}
	testproc.StartOnFreePorts(t, "redis", 10*time.Second, func() (*testproc.Process, func() error) {
		addr = testenv.FreeAddr(t)
		return run()
	})
	start = func() {
		_, ready := run()
		testproc.WaitFor(t, "redis up", 10*time.Second, ready, p)
	}
	stop = func() { p.Kill() }
	return addr, stop, start
}

// copyRulesWithShortFor copies prometheus/rules/*.yml into dir with every
// `for:` set to d; nothing else changes.
func copyRulesWithShortFor(t *testing.T, dir, d string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(testproc.RepoPath(t, "prometheus", "rules", "*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no rules: %v", err)
	}
	forRe := regexp.MustCompile(`(?m)^(\s+for:\s*)\S+`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, filepath.Base(f)), forRe.ReplaceAllString(string(b), "${1}"+d))
	}
}

// steadyTraffic sends a GET to url every 50 ms until stopped.
func steadyTraffic(t *testing.T, url string) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				if resp, err := http.DefaultClient.Do(req); err == nil {
					resp.Body.Close()
				}
			}
		}
	}()
	var stopped bool
	return func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
}

// waitForNotification waits for a page about alertname in state ("firing"
// or "resolved") and returns when it was seen.
func waitForNotification(t *testing.T, mail *testproc.Mailpit, alertname, state string, timeout time.Duration, procs ...*testproc.Process) time.Time {
	t.Helper()
	testproc.Poll(t, state+" "+alertname+" in the inbox", 250*time.Millisecond, timeout, func() error {
		_, err := findNotification(mail, alertname, state)
		return err
	}, procs...)
	return time.Now()
}

// findNotification returns the ID of the newest email about alertname, a
// page, in state: its subject as alertmanager/templates/notifications.tmpl
// writes it, "[FIRING:1] DependencyDown on blog-api (page): …".
func findNotification(mail *testproc.Mailpit, alertname, state string) (string, error) {
	msgs, err := mail.Messages(context.Background())
	if err != nil {
		return "", err
	}
	subject := regexp.MustCompile(`^\[` + strings.ToUpper(state) + `[:\]].* ` + regexp.QuoteMeta(alertname) + ` on \S+ \(page\)`)
	for _, m := range msgs {
		if subject.MatchString(m.Subject) {
			return m.ID, nil
		}
	}
	var subjects []string
	for _, m := range msgs {
		subjects = append(subjects, m.Subject)
	}
	return "", fmt.Errorf("no %s %s notification among %q", state, alertname, subjects)
}

// notificationText is the text of the notification findNotification finds.
func notificationText(t *testing.T, mail *testproc.Mailpit, alertname, state string) string {
	t.Helper()
	id, err := findNotification(mail, alertname, state)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := mail.Message(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return msg.Text + "\n" + msg.HTML
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
