// Sentry for the browser: the one module that configures @sentry/react.
//
// Configuration comes from the build (VITE_SENTRY_DSN, the Vite mode) or, at
// run time, from the Go app's GET /api/config, so one built image works in
// every environment. The runtime config wins when it has a DSN. With no DSN at
// all Sentry is not initialised and the app works the same without it.
import { SENTRY_OP, SENTRY_SEGMENT_NAME_SOURCE, URL_TEMPLATE } from '@sentry/conventions/attributes';
import * as Sentry from '@sentry/react';
import type { ErrorInfo } from 'react';
import { ApiError, getConfig, isAbortError, type RuntimeConfig } from './api';

export { ErrorBoundary } from '@sentry/react';

/** SentrySettings is what varies between deployments. */
export interface SentrySettings {
  dsn: string;
  environment: string;
  tracesSampleRate: number;
}

/** BuildConfig is what the bundle was built with (import.meta.env). */
export interface BuildConfig {
  dsn?: string | undefined;
  mode: string;
}

/** TUNNEL is the backend endpoint that forwards envelopes to the configured DSN (no ad blocker, no CORS). */
export const TUNNEL = '/api/sentry-tunnel';

/** CONFIG_TIMEOUT_MS bounds how long the first render waits for GET /api/config. */
export const CONFIG_TIMEOUT_MS = 1500;

export function defaultTracesSampleRate(environment: string): number {
  return environment === 'production' ? 0.1 : 1.0;
}

function isSampleRate(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1;
}

/**
 * resolveSettings picks the settings to run with: the runtime config when it
 * has a DSN, else the build config when it has one, else null (Sentry off).
 */
export function resolveSettings(build: BuildConfig, runtime: RuntimeConfig | null): SentrySettings | null {
  const rt = runtime?.sentry;
  if (rt?.dsn) {
    const environment = rt.environment || build.mode;
    return {
      dsn: rt.dsn,
      environment,
      tracesSampleRate: isSampleRate(rt.tracesSampleRate) ? rt.tracesSampleRate : defaultTracesSampleRate(environment),
    };
  }
  if (build.dsn) {
    return { dsn: build.dsn, environment: build.mode, tracesSampleRate: defaultTracesSampleRate(build.mode) };
  }
  return null;
}

/**
 * PII_KEY_SNIPPETS are the header and query parameter names (matched as
 * case-insensitive substrings) that identify a person or where they connect
 * from: the SDK 10 default, which SDK 11 no longer applies unless asked to.
 * The SDK always filters the values of secret-looking names (token, auth, ...).
 */
const PII_KEY_SNIPPETS = ['forwarded', '-ip', 'remote-', 'via', '-user'];

/**
 * DATA_COLLECTION keeps what the SDK collects at what SDK 10 collected with
 * sendDefaultPii off: SDK 11 collects more when dataCollection is left out
 * (the user's IP, cookies, bodies). The categories this app does not use
 * (GraphQL, AI, databases) are off too, so an integration added later does
 * not start collecting them silently.
 */
export const DATA_COLLECTION: Sentry.BrowserOptions['dataCollection'] = {
  // No IP address nor user agent inferred by Sentry; the user is only the ID setSentryUser sets.
  userInfo: false,
  cookies: false,
  httpHeaders: { request: { deny: PII_KEY_SNIPPETS }, response: { deny: PII_KEY_SNIPPETS } },
  httpBodies: [],
  urlQueryParams: { deny: PII_KEY_SNIPPETS },
  graphQL: { document: false, variables: false },
  genAI: { inputs: false, outputs: false },
  databaseQueryData: false,
};

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * buildOptions returns the options given to Sentry.init. Session Replay is not
 * among the integrations: scheduleReplayLoad adds it later, from its own chunk.
 */
export function buildOptions(settings: SentrySettings, origin: string = window.location.origin): Sentry.BrowserOptions {
  return {
    dsn: settings.dsn,
    environment: settings.environment,
    integrations: [Sentry.browserTracingIntegration()],
    tracesSampleRate: settings.tracesSampleRate,
    // Trace headers go to our own API only, never to third parties. Relative
    // URLs are matched on their path; the second entry covers absolute URLs.
    tracePropagationTargets: [/^\/api\//, new RegExp(`^${escapeRegExp(origin)}/api/`)],
    // Also send the W3C traceparent header, which the Go backend (OpenTelemetry)
    // continues, so one trace ID links the browser, the API logs and Sentry.
    propagateTraceparent: true,
    // Record nothing by default, but keep a buffer and send it when an error happens.
    replaysSessionSampleRate: 0,
    replaysOnErrorSampleRate: 1.0,
    tunnel: TUNNEL,
    dataCollection: DATA_COLLECTION,
  };
}

/** initSentry initialises the SDK with settings, then schedules the lazy Session Replay. */
export function initSentry(settings: SentrySettings, scheduleReplay: () => void = scheduleReplayLoad): void {
  Sentry.init(buildOptions(settings));
  scheduleReplay();
}

/**
 * fetchRuntimeConfig asks the Go app for its runtime config. It never throws:
 * a slow, missing or broken endpoint means "no runtime config".
 */
export async function fetchRuntimeConfig(timeoutMs: number = CONFIG_TIMEOUT_MS): Promise<RuntimeConfig | null> {
  try {
    return await getConfig(timeoutMs);
  } catch (err) {
    console.warn('Sentry: no runtime config from /api/config; using the build config.', err);
    return null;
  }
}

/**
 * setupSentry is called once before the first render. It waits at most
 * timeoutMs for the runtime config and resolves to the settings in use, or
 * null when Sentry stays off.
 */
export async function setupSentry(
  build: BuildConfig = { dsn: import.meta.env.VITE_SENTRY_DSN, mode: import.meta.env.MODE },
  timeoutMs: number = CONFIG_TIMEOUT_MS,
): Promise<SentrySettings | null> {
  const settings = resolveSettings(build, await fetchRuntimeConfig(timeoutMs));
  if (settings) initSentry(settings);
  return settings;
}

/**
 * scheduleReplayLoad loads Session Replay (a large module) once the page has
 * loaded and the browser is idle, so it never delays the first paint.
 */
export function scheduleReplayLoad(load: () => Promise<{ installReplay: () => void }> = () => import('./replay')): void {
  const start = () => {
    load()
      .then((m) => m.installReplay())
      .catch((err: unknown) => console.warn('Sentry: could not load Session Replay.', err));
  };
  const whenIdle = () => {
    if (typeof window.requestIdleCallback === 'function') window.requestIdleCallback(start, { timeout: 2000 });
    else setTimeout(start, 200);
  };
  if (document.readyState === 'complete') whenIdle();
  else window.addEventListener('load', whenIdle, { once: true });
}

/**
 * captureApiError sends a failed API call to Sentry, tagged with the backend's
 * request ID so the event links to the server logs. It returns the event ID.
 */
export function captureApiError(error: unknown): string {
  if (!(error instanceof ApiError)) return Sentry.captureException(error);
  return Sentry.captureException(error, {
    tags: {
      'api.status': String(error.status),
      'api.code': error.code,
      ...(error.requestId ? { request_id: error.requestId } : {}),
    },
    contexts: { api: { method: error.method, path: error.path, status: error.status, code: error.code } },
  });
}

/** reportUnexpected sends errors that are not API errors (that is, bugs) to Sentry. */
export function reportUnexpected(error: unknown): void {
  if (error instanceof ApiError || isAbortError(error)) return;
  Sentry.captureException(error);
}

/** sentryEnabled tells whether events are actually sent (Sentry is initialised with a DSN). */
export function sentryEnabled(): boolean {
  return Sentry.isEnabled();
}

/**
 * nameRoute names the current page load or navigation after its route
 * pattern ("/posts/:id"), not its URL, so Sentry groups them the way the
 * backend's http.route does. The SDK alone names them "Pageload" and
 * "Navigation", as it does not know this app's router; the attributes are
 * the ones Sentry's own router integrations set.
 */
export function nameRoute(pattern: string): void {
  const active = Sentry.getActiveSpan();
  if (!active) return;
  const root = Sentry.getRootSpan(active);
  const op = Sentry.spanToJSON(root).attributes[SENTRY_OP];
  if (op !== 'pageload' && op !== 'navigation') return;
  root.updateName(pattern);
  root.setAttributes({ [SENTRY_SEGMENT_NAME_SOURCE]: 'route', [URL_TEMPLATE]: pattern });
}

/** setSentryUser attaches the logged-in user's ID (never the email) to events. */
export function setSentryUser(userId: number | null): void {
  Sentry.setUser(userId === null ? null : { id: String(userId) });
}

/**
 * rootErrorHandlers are React 19 createRoot options: errors that no error
 * boundary caught, and errors React recovered from, still reach Sentry.
 * (Caught errors are reported by the ErrorBoundary itself.)
 */
export function rootErrorHandlers() {
  const log = (error: unknown, info: ErrorInfo) => console.error(error, info.componentStack);
  return {
    onUncaughtError: Sentry.reactErrorHandler(log),
    onRecoverableError: Sentry.reactErrorHandler(log),
  };
}
