// End-to-end test: the real Go app serving the built frontend, driven by
// headless Chromium. It proves that one trace ID links the browser request,
// the backend's logs and the Sentry event.
//
//   npm run build && npm run e2e        (or: make test-e2e from the repo root)
//
// Needs Go and Chromium (/usr/bin/chromium, or CHROMIUM_PATH). Without
// Chromium the test is skipped, except in CI (CI=true), where it fails.
// UPDATE_SCREENSHOT=1 also writes docs/screenshot.png.
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { errorEvents, freePort, parseEnvelope, run, startApp, startFakeSentry, waitFor } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const frontendDir = resolve(here, '..');
const repoRoot = resolve(frontendDir, '..');
const distDir = join(frontendDir, 'dist');
const artifactsDir = join(here, 'artifacts');
const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const inCI = process.env.CI === 'true';
const SENTRY_PROJECT = '42';
const MAX_SCREENSHOT_BYTES = 150 * 1024;

// Bounds, so that a hang fails the run instead of eating CI's time.
const SETUP_TIMEOUT = { timeout: 300_000 };
const STEP_TIMEOUT = { timeout: 90_000 };

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/;

let skipReason = '';
if (!existsSync(chromiumPath)) {
  const msg = `Chromium not found at ${chromiumPath} (apt-get install -y chromium, or set CHROMIUM_PATH)`;
  if (inCI) throw new Error(`e2e: ${msg}; it is required when CI=true`);
  skipReason = msg;
  console.warn(`\n*** e2e SKIPPED: ${msg} ***\n`);
  // make test lists every skipped proof at the end (SKIP_REPORT).
  if (process.env.SKIP_REPORT) appendFileSync(process.env.SKIP_REPORT, `e2e (frontend/e2e): ${msg}\n`);
}

describe('blog end to end', { skip: skipReason || false }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'blog-e2e-'));
  /** @type {Awaited<ReturnType<typeof startFakeSentry>>} */
  let sentry;
  /** @type {ReturnType<typeof startApp>} */
  let app;
  /** @type {import('playwright-core').BrowserContext} */
  let browser;
  /** @type {import('playwright-core').Page} */
  let page;
  let baseURL = '';
  const consoleErrors = /** @type {string[]} */ ([]);
  /**
   * @typedef {object} CSPViolation a Content-Security-Policy violation a page reported
   * @property {string} directive
   * @property {string} blocked
   * @property {string} source
   */
  const cspViolations = /** @type {CSPViolation[]} */ ([]);
  /** Envelopes the browser POSTed to the tunnel, as the browser sent them. */
  const tunnelled = /** @type {import('./lib.mjs').Envelope[]} */ ([]);

  const email = `e2e-${Date.now()}@example.com`;
  const password = 'correct horse battery';
  const title = `Hello from the e2e test ${Date.now()}`;
  /** What the browser sent and the server answered for POST /api/posts. */
  const createCall = { traceparent: '', requestId: '', status: 0 };

  before(async () => {
    assert.ok(existsSync(join(distDir, 'index.html')), `no ${distDir}/index.html: run "npm run build" first`);
    mkdirSync(artifactsDir, { recursive: true });

    const binary = join(tmp, 'app');
    await run('go', ['build', '-o', binary, './app'], { cwd: repoRoot });

    sentry = await startFakeSentry(SENTRY_PROJECT);
    const [httpPort, adminPort] = [await freePort(), await freePort()];
    baseURL = `http://127.0.0.1:${httpPort}`;
    app = startApp(
      binary,
      {
        HTTP_ADDR: `127.0.0.1:${httpPort}`,
        ADMIN_ADDR: `127.0.0.1:${adminPort}`,
        DATABASE_URL: `sqlite:${join(tmp, 'e2e.db')}`,
        FRONTEND_DIR: distDir,
        SENTRY_FRONTEND_DSN: `http://publickey@127.0.0.1:${sentry.port}/${SENTRY_PROJECT}`,
        // Every browser trace sampled, so its spans can be checked below.
        SENTRY_ENVIRONMENT: 'e2e',
        SENTRY_TRACES_SAMPLE_RATE: '1',
        LOG_LEVEL: 'debug',
        LOG_FORMAT: 'json',
        OTEL_TRACES_EXPORTER: 'none',
        OTEL_LOGS_EXPORTER: 'none',
        OTEL_METRICS_EXPORTER: 'none',
      },
      repoRoot,
    );
    await Promise.race([
      waitFor(async () => (await fetch(`${baseURL}/readyz`)).ok, { timeoutMs: 30_000, what: 'the app to be ready' }),
      app.exited.then((code) => {
        throw new Error(`the app exited with ${code} before it was ready:\n${app.output()}`);
      }),
    ]);

    browser = await chromium.launchPersistentContext(join(tmp, 'chromium-profile'), {
      executablePath: chromiumPath,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1200, height: 760 },
      deviceScaleFactor: 1,
      baseURL,
    });
    // Every document of the run reports its CSP violations here.
    await browser.exposeFunction('__reportCSPViolation', (/** @type {any} */ v) => cspViolations.push(v));
    await browser.addInitScript({
      content: `document.addEventListener('securitypolicyviolation', (e) =>
        window.__reportCSPViolation({ directive: e.effectiveDirective, blocked: e.blockedURI, source: e.sourceFile }));`,
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    page.setDefaultTimeout(15_000);
    page.on('console', (msg) => {
      if (msg.type() === 'error') consoleErrors.push(msg.text());
    });
    page.on('pageerror', (err) => consoleErrors.push(String(err)));
    page.on('request', (req) => {
      const body = req.postDataBuffer();
      if (req.method() === 'POST' && new URL(req.url()).pathname === '/api/sentry-tunnel' && body) {
        tunnelled.push(parseEnvelope(body));
      }
    });
  }, SETUP_TIMEOUT);

  after(async () => {
    // The last state of the page, to look at when a step failed.
    await page?.screenshot({ path: join(artifactsDir, 'last.png') }).catch(() => {});
    await browser?.close();
    await app?.stop();
    await sentry?.close();
    if (app) writeFileSync(join(artifactsDir, 'app.log'), app.output());
    rmSync(tmp, { recursive: true, force: true });
  }, SETUP_TIMEOUT);

  it('registers and logs in', STEP_TIMEOUT, async () => {
    await page.goto('/register');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Create account' }).click();

    await page.waitForURL('**/login');
    assert.equal(await page.getByLabel('Email').inputValue(), email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Log in' }).click();

    await page.getByRole('button', { name: 'Log out' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/');
    const stored = await page.evaluate(() => [sessionStorage.getItem('blog.session'), localStorage.length]);
    assert.match(String(stored[0]), /"token":"[^"]+"/, 'the session is in sessionStorage');
    assert.equal(stored[1], 0, 'nothing in localStorage');
  });

  it('creates a post with a traceparent that the backend continues and logs', STEP_TIMEOUT, async () => {
    await page.locator('.live-feed .badge-live').waitFor();
    await page.getByRole('link', { name: 'New post' }).click();
    await page.getByLabel('Title').fill(title);
    await page.getByLabel('Body').fill('Written by headless Chromium.\n\nSecond paragraph.');

    const [request, response] = await Promise.all([
      page.waitForRequest((r) => r.method() === 'POST' && new URL(r.url()).pathname === '/api/posts'),
      page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/api/posts'),
      page.getByRole('button', { name: 'Publish' }).click(),
    ]);
    const headers = await request.allHeaders();
    createCall.traceparent = headers.traceparent ?? '';
    createCall.requestId = (await response.allHeaders())['x-request-id'] ?? '';
    createCall.status = response.status();

    assert.equal(createCall.status, 201);
    const m = TRACEPARENT.exec(createCall.traceparent);
    assert.ok(m, `POST /api/posts carried a W3C traceparent header (got ${JSON.stringify(createCall.traceparent)})`);
    assert.ok(headers['sentry-trace']?.startsWith(m[1]), 'sentry-trace has the same trace ID');
    assert.equal(createCall.requestId, m[1], 'X-Request-Id is the trace ID the browser sent');

    await page.getByRole('heading', { name: title }).waitFor();

    // The backend's access log line for this request carries the same trace ID.
    const accessLine = await waitFor(
      () =>
        app.lines.find(
          (l) => l.msg === 'http.request' && l.method === 'POST' && String(l.route).endsWith('/api/posts') && Number(l.status) === 201,
        ),
      { what: 'the access log line of POST /api/posts' },
    );
    assert.equal(accessLine.trace_id, m[1], 'the access log line has the browser trace ID');
    const traced = app.lines.filter((l) => l.trace_id === m[1]);
    assert.ok(traced.length >= 1, 'log lines of the request carry the trace ID');
    assert.ok(
      !JSON.stringify(app.lines).includes(password) && !JSON.stringify(app.lines).includes(email),
      'no password nor email in the logs',
    );
  });

  it('shows the new post in the live feed', STEP_TIMEOUT, async () => {
    const feedLink = page.locator('.live-feed').getByRole('link', { name: title });
    await feedLink.waitFor();
    assert.equal(await feedLink.getAttribute('href'), new URL(page.url()).pathname);
  });

  it('reports a failed API call to Sentry through the tunnel, linked by trace ID', STEP_TIMEOUT, async () => {
    await page.getByRole('link', { name: 'Blog' }).click();
    await page.getByRole('heading', { name: 'Posts' }).waitFor();

    const [response] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === '/api/posts/999999999'),
      page.getByRole('button', { name: 'Failed API call' }).click(),
    ]);
    assert.equal(response.status(), 404);
    const requestId = (await response.allHeaders())['x-request-id'] ?? '';
    assert.match(requestId, /^[0-9a-f]{32}$/);
    const sentTraceparent = (await response.request().allHeaders()).traceparent ?? '';
    assert.equal(TRACEPARENT.exec(sentTraceparent)?.[1], requestId, 'the failed call was traced too');

    const outcome = page.locator('.demo-outcome');
    await outcome.getByText(`Request ID: ${requestId}`).waitFor();
    const eventId = (await outcome.locator('.request-id code').last().textContent())?.trim() ?? '';
    assert.match(eventId, /^[0-9a-f]{32}$/, 'the UI shows the Sentry event ID');

    await page.screenshot({ path: join(artifactsDir, 'failed-api-call.png') });
    if (process.env.UPDATE_SCREENSHOT === '1') {
      const docs = join(repoRoot, 'docs');
      mkdirSync(docs, { recursive: true });
      const target = join(docs, 'screenshot.png');
      await page.screenshot({ path: target });
      const size = statSync(target).size;
      assert.ok(size <= MAX_SCREENSHOT_BYTES, `docs/screenshot.png is ${size} bytes, over ${MAX_SCREENSHOT_BYTES}`);
    }

    // 1. The browser sent the event to the tunnel on our own origin. The SDK
    // puts the trace of the page, the same one the failed fetch propagated,
    // both in the envelope header and on the event: it is the backend's trace
    // for that request, so Sentry, Tempo and Loki meet on one ID.
    const sent = await waitFor(() => errorEvents(tunnelled).find(({ event }) => event.event_id === eventId), {
      what: `the browser to POST event ${eventId} to /api/sentry-tunnel`,
    });
    assert.equal(sent.event.exception?.values?.[0]?.type, 'ApiError');
    assert.equal(sent.event.tags?.request_id, requestId);
    assert.equal(sent.event.contexts?.trace?.trace_id, requestId, 'event contexts.trace.trace_id');
    assert.equal(sent.env.headers.trace?.trace_id, requestId, 'envelope header trace.trace_id');
    assert.equal(sent.env.headers.trace?.public_key, 'publickey', 'the DSN came from the runtime config');
    // The privacy baseline (dataCollection): no IP inferred, no cookies, the user by ID only.
    assert.equal(sent.event.sdk?.settings?.infer_ip, 'never', 'Sentry is told not to infer the IP address');
    assert.equal(sent.event.request?.cookies, undefined, 'no cookies on the event');
    assert.deepEqual(Object.keys(sent.event.user ?? {}), ['id'], 'the user is identified by ID only');

    // 2. The Go app forwarded it, unchanged, to the project of the configured DSN.
    const received = await waitFor(() => errorEvents(sentry.envelopes).find(({ event }) => event.event_id === eventId), {
      what: () => `Sentry event ${eventId} at the fake Sentry (it refused: ${sentry.rejected.join(', ') || 'nothing'})`,
    });
    assert.equal(received.env.path.split('?')[0], `/api/${SENTRY_PROJECT}/envelope/`);
    assert.equal(received.event.contexts?.trace?.trace_id, requestId);
    assert.equal(received.env.headers.trace?.trace_id, requestId);
  });

  it('catches a render error in the error boundary and reports it', STEP_TIMEOUT, async () => {
    await page.getByRole('button', { name: 'Render error' }).click();
    const fallback = page.locator('.fallback');
    await fallback.waitFor();
    const eventId = (await fallback.locator('code').textContent())?.trim() ?? '';
    assert.match(eventId, /^[0-9a-f]{32}$/);

    await page.screenshot({ path: join(artifactsDir, 'render-error.png') });

    const sent = await waitFor(() => errorEvents(tunnelled).find(({ event }) => event.event_id === eventId), {
      what: `the browser to POST the render error event ${eventId} to the tunnel`,
    });
    assert.match(sent.event.exception?.values?.at(-1)?.value ?? '', /Demo render error/);
    assert.match(sent.event.contexts?.trace?.trace_id ?? '', /^[0-9a-f]{32}$/);
    assert.equal(sent.env.headers.trace?.trace_id, sent.event.contexts?.trace?.trace_id);
    await waitFor(() => errorEvents(sentry.envelopes).some(({ event }) => event.event_id === eventId), {
      what: () => `the render error event ${eventId} at the fake Sentry (it refused: ${sentry.rejected.join(', ') || 'nothing'})`,
    });

    await fallback.getByRole('button', { name: 'Try again' }).click();
    await page.getByRole('heading', { name: 'Trigger an error' }).waitFor();
  });

  it('loads Session Replay lazily, as its own chunk, and sends the replay of the errors', STEP_TIMEOUT, async () => {
    const scripts = await page.evaluate(() => performance.getEntriesByType('resource').map((e) => e.name).filter((n) => n.endsWith('.js')));
    assert.ok(scripts.some((s) => /\/assets\/replay-[\w-]+\.js$/.test(s)), `replay chunk loaded after start (${scripts.join(', ')})`);
    const html = await (await fetch(baseURL)).text();
    assert.doesNotMatch(html, /replay-[\w-]+\.js/, 'index.html does not preload the replay chunk');
    // replaysOnErrorSampleRate 1.0: the errors above make the buffered replay go out.
    await waitFor(() => tunnelled.some((env) => env.items.some((it) => it.header.type === 'replay_event')), {
      timeoutMs: 30_000,
      what: 'a replay_event envelope sent to the tunnel',
    });
  });

  it('streams the browser spans to Sentry in the same trace, named by route', STEP_TIMEOUT, async () => {
    const traceId = TRACEPARENT.exec(createCall.traceparent)?.[1];
    assert.ok(traceId, 'the POST /api/posts step ran');
    // SDK 11 streams spans (span items of a span v2 container) instead of
    // sending transactions; attributes are typed: { type, value }.
    const spans = () =>
      tunnelled.flatMap((env) => env.items.filter((it) => it.header.type === 'span' && it.json).flatMap((it) => it.json.items ?? []));
    const attr = (/** @type {any} */ span, /** @type {string} */ key) => span.attributes?.[key]?.value;
    const segments = () => spans().filter((sp) => sp.is_segment);

    // The navigation that published the post is the segment of its fetch span.
    const nav = await waitFor(() => segments().find((sp) => sp.trace_id === traceId), {
      timeoutMs: 30_000,
      what: `a segment span in trace ${traceId}`,
    });
    assert.equal(attr(nav, 'sentry.op'), 'navigation');
    assert.equal(nav.name, '/posts/new', 'named by route pattern');
    assert.equal(attr(nav, 'sentry.segment.name.source'), 'route');
    const isCreate = (/** @type {any} */ sp) =>
      sp.trace_id === traceId &&
      attr(sp, 'sentry.op') === 'http.client' &&
      attr(sp, 'http.request.method') === 'POST' &&
      new URL(attr(sp, 'url.full') ?? '', baseURL).pathname === '/api/posts';
    const fetchSpan = await waitFor(() => spans().find(isCreate), {
      what: () =>
        `an http.client span for POST /api/posts (spans of the trace: ${spans()
          .filter((sp) => sp.trace_id === traceId)
          .map((sp) => `${sp.name} ${attr(sp, 'url.full') ?? ''}`)
          .join(', ')})`,
    });
    assert.equal(createCall.traceparent.split('-')[2], fetchSpan.span_id, 'traceparent names the fetch span as parent');

    // Post pages are grouped under one name, whatever the post ID.
    assert.ok(
      segments().some((sp) => sp.name === '/posts/:id'),
      `a /posts/:id segment (got ${segments().map((sp) => sp.name).join(', ')})`,
    );
    assert.ok(!segments().some((sp) => /^\/posts\/\d+/.test(sp.name)), 'no segment named after a raw post URL');
    // dataCollection.userInfo is off: Sentry must not infer the user's IP or user agent from these spans.
    const containers = tunnelled.flatMap((env) => env.items.filter((it) => it.header.type === 'span' && it.json).map((it) => it.json));
    assert.ok(
      containers.every((c) => c.ingest_settings?.infer_ip === 'never'),
      `every span container says infer_ip: never (got ${JSON.stringify(containers.map((c) => c.ingest_settings))})`,
    );
  });

  it('runs the whole UI under a strict Content-Security-Policy without a violation', STEP_TIMEOUT, async () => {
    const res = await fetch(baseURL);
    assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self'/, 'the UI is served with its CSP');
    assert.equal(res.headers.get('cross-origin-opener-policy'), 'same-origin');
    assert.match(res.headers.get('permissions-policy') ?? '', /camera=\(\)/);
    // Everything above ran under the policy: the Sentry SDK through the
    // tunnel, Session Replay's worker, the live feed's WebSocket.
    assert.equal(cspViolations.length, 0, `no CSP violation while the UI ran: ${JSON.stringify(cspViolations)}`);

    // The listener works: an inline script is refused and reported.
    const ran = await page.evaluate(`(() => {
      const s = document.createElement('script');
      s.textContent = 'window.__inlineRan = true';
      document.head.appendChild(s);
      return window.__inlineRan === true;
    })()`);
    assert.equal(ran, false, 'an inline script did not run');
    await waitFor(() => cspViolations.some((v) => v.directive === 'script-src-elem'), {
      what: 'the refused inline script reported as a violation',
    });
    consoleErrors.splice(0, consoleErrors.length, ...consoleErrors.filter((e) => !/Content Security Policy/.test(e)));
  });

  it('logged no unexpected errors in the browser console', STEP_TIMEOUT, () => {
    // Expected: the two demo errors (React logs caught render errors) and the 404 of the failed call.
    const unexpected = consoleErrors.filter(
      (e) => !/Demo render error|999999999|404 \(Not Found\)|The above error occurred/.test(e),
    );
    assert.deepEqual(unexpected, []);
  });
});
