import { SENTRY_SEGMENT_NAME_SOURCE, URL_TEMPLATE } from '@sentry/conventions/attributes';
import * as Sentry from '@sentry/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from './api';
import {
  DATA_COLLECTION,
  TUNNEL,
  buildOptions,
  captureApiError,
  initSentry,
  nameRoute,
  resolveSettings,
  scheduleReplayLoad,
  setupSentry,
  type SentrySettings,
} from './sentry';
import { json, mockFetch } from './test/http';

vi.mock('@sentry/react', () => ({
  init: vi.fn(),
  browserTracingIntegration: vi.fn(() => ({ name: 'BrowserTracing' })),
  replayIntegration: vi.fn(() => ({ name: 'Replay' })),
  addIntegration: vi.fn(),
  captureException: vi.fn(() => 'event-id-1'),
  setUser: vi.fn(),
  reactErrorHandler: vi.fn(() => () => {}),
  ErrorBoundary: () => null,
  getActiveSpan: vi.fn(),
  getRootSpan: vi.fn((span: unknown) => span),
  // SDK 11 returns the streamed span format: the op is an attribute.
  spanToJSON: vi.fn((span: { op?: string }) => ({ attributes: { 'sentry.op': span.op } })),
}));

const settings: SentrySettings = { dsn: 'https://key@sentry.example/1', environment: 'production', tracesSampleRate: 0.1 };

function initOptions(): Sentry.BrowserOptions {
  const calls = vi.mocked(Sentry.init).mock.calls;
  expect(calls).toHaveLength(1);
  return calls[0]![0];
}

beforeEach(() => {
  vi.mocked(Sentry.init).mockClear();
  vi.mocked(Sentry.addIntegration).mockClear();
  vi.mocked(Sentry.replayIntegration).mockClear();
  vi.mocked(Sentry.captureException).mockClear();
});

describe('buildOptions', () => {
  it('passes tracing, trace propagation to our API only, the tunnel and the privacy options', () => {
    const opts = buildOptions(settings, 'https://blog.example');

    expect(opts.dsn).toBe(settings.dsn);
    expect(opts.environment).toBe('production');
    expect(opts.tracesSampleRate).toBe(0.1);
    expect(opts.tunnel).toBe(TUNNEL);
    expect(opts.tunnel).toBe('/api/sentry-tunnel');
    expect(opts.propagateTraceparent).toBe(true);
    expect(opts.dataCollection).toBe(DATA_COLLECTION);
    expect(opts.replaysSessionSampleRate).toBe(0);
    expect(opts.replaysOnErrorSampleRate).toBe(1.0);
    expect(opts.integrations).toEqual([{ name: 'BrowserTracing' }]);
  });

  it('propagates traces to /api/ on this origin and nowhere else', () => {
    const targets = buildOptions(settings, 'https://blog.example').tracePropagationTargets ?? [];
    const matches = (url: string) => targets.some((t) => (typeof t === 'string' ? url.includes(t) : t.test(url)));

    expect(matches('/api/posts')).toBe(true);
    expect(matches('https://blog.example/api/posts/1')).toBe(true);
    expect(matches('https://evil.example/api/posts')).toBe(false);
    expect(matches('https://blog.example.evil.example/api/posts')).toBe(false);
    expect(matches('/assets/index.js')).toBe(false);
    expect(matches('https://cdn.example/lib.js')).toBe(false);
  });
});

describe('DATA_COLLECTION', () => {
  // SDK 11 collects IP addresses, cookies and bodies unless told not to.
  it('collects no more than SDK 10 did with sendDefaultPii off', () => {
    expect(DATA_COLLECTION?.userInfo).toBe(false);
    expect(DATA_COLLECTION?.cookies).toBe(false);
    expect(DATA_COLLECTION?.httpBodies).toEqual([]);
    expect(DATA_COLLECTION?.genAI).toEqual({ inputs: false, outputs: false });
    expect(DATA_COLLECTION?.databaseQueryData).toBe(false);
    expect(DATA_COLLECTION?.graphQL).toEqual({ document: false, variables: false });
    const denied = { deny: ['forwarded', '-ip', 'remote-', 'via', '-user'] };
    expect(DATA_COLLECTION?.httpHeaders).toEqual({ request: denied, response: denied });
    expect(DATA_COLLECTION?.urlQueryParams).toEqual(denied);
  });
});

describe('resolveSettings', () => {
  it('uses the runtime config when it has a DSN, over the build DSN', () => {
    const s = resolveSettings(
      { dsn: 'https://build@sentry.example/1', mode: 'development' },
      { sentry: { dsn: 'https://runtime@sentry.example/2', environment: 'staging', tracesSampleRate: 0.5 } },
    );
    expect(s).toEqual({ dsn: 'https://runtime@sentry.example/2', environment: 'staging', tracesSampleRate: 0.5 });
  });

  it('uses the build config when the runtime DSN is empty', () => {
    const s = resolveSettings({ dsn: 'https://build@sentry.example/1', mode: 'production' }, { sentry: { dsn: '', environment: 'staging' } });
    expect(s).toEqual({ dsn: 'https://build@sentry.example/1', environment: 'production', tracesSampleRate: 0.1 });
  });

  it('samples every trace in development and a tenth in production by default', () => {
    expect(resolveSettings({ dsn: 'https://b@s.example/1', mode: 'development' }, null)?.tracesSampleRate).toBe(1.0);
    expect(resolveSettings({ dsn: 'https://b@s.example/1', mode: 'production' }, null)?.tracesSampleRate).toBe(0.1);
    // A runtime config without a usable rate falls back to the default of its environment.
    expect(
      resolveSettings({ mode: 'development' }, { sentry: { dsn: 'https://r@s.example/2', environment: 'production', tracesSampleRate: 7 } })
        ?.tracesSampleRate,
    ).toBe(0.1);
  });

  it('turns Sentry off when there is no DSN at all', () => {
    expect(resolveSettings({ dsn: '', mode: 'production' }, { sentry: { dsn: '' } })).toBeNull();
    expect(resolveSettings({ mode: 'production' }, null)).toBeNull();
  });
});

describe('setupSentry', () => {
  it('initialises with the runtime config from /api/config', async () => {
    const { calls } = mockFetch(() =>
      json(200, { sentry: { dsn: 'https://runtime@sentry.example/2', environment: 'staging', tracesSampleRate: 0.25 } }),
    );

    const s = await setupSentry({ dsn: 'https://build@sentry.example/1', mode: 'production' }, 1000);

    expect(calls[0]?.url).toBe('/api/config');
    expect(s?.dsn).toBe('https://runtime@sentry.example/2');
    const opts = initOptions();
    expect(opts.dsn).toBe('https://runtime@sentry.example/2');
    expect(opts.environment).toBe('staging');
    expect(opts.tracesSampleRate).toBe(0.25);
  });

  it('falls back to the build config when /api/config fails', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => {});
    mockFetch(() => json(404, { error: { code: 'not_found', message: 'no' } }));

    await setupSentry({ dsn: 'https://build@sentry.example/1', mode: 'production' }, 1000);

    expect(initOptions().dsn).toBe('https://build@sentry.example/1');
  });

  it('does not wait for a slow /api/config longer than the timeout', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => {});
    // A server that never answers: only the abort signal ends the request.
    vi.stubGlobal(
      'fetch',
      vi.fn(
        (_url: string, init: RequestInit) =>
          new Promise((_resolve, reject) => init.signal?.addEventListener('abort', () => reject(init.signal?.reason as Error))),
      ),
    );
    const started = Date.now();

    const s = await setupSentry({ dsn: 'https://build@sentry.example/1', mode: 'development' }, 50);

    expect(Date.now() - started).toBeLessThan(1000);
    expect(s?.dsn).toBe('https://build@sentry.example/1');
    expect(initOptions().tracesSampleRate).toBe(1.0);
  });

  it('does not initialise Sentry without any DSN', async () => {
    mockFetch(() => json(200, { sentry: { dsn: '' } }));
    await expect(setupSentry({ dsn: undefined, mode: 'production' }, 1000)).resolves.toBeNull();
    expect(Sentry.init).not.toHaveBeenCalled();
  });
});

describe('Session Replay', () => {
  it('is not part of the initial init, but scheduled for later', () => {
    const schedule = vi.fn();
    initSentry(settings, schedule);

    expect(Sentry.replayIntegration).not.toHaveBeenCalled();
    expect(Sentry.addIntegration).not.toHaveBeenCalled();
    expect(initOptions().integrations).not.toContainEqual({ name: 'Replay' });
    expect(schedule).toHaveBeenCalledTimes(1);
  });

  describe('scheduleReplayLoad', () => {
    afterEach(() => vi.useRealTimers());

    it('imports the replay module once the page is idle and adds the masked integration', async () => {
      vi.useFakeTimers();
      const load = vi.fn(() => import('./replay'));

      scheduleReplayLoad(load);
      // Nothing happens synchronously: the first paint is never delayed by Replay.
      expect(load).not.toHaveBeenCalled();

      await vi.runAllTimersAsync();
      vi.useRealTimers();
      await vi.waitFor(() => expect(Sentry.addIntegration).toHaveBeenCalledWith({ name: 'Replay' }));
      expect(load).toHaveBeenCalledTimes(1);
      expect(Sentry.replayIntegration).toHaveBeenCalledWith({ maskAllText: true, blockAllMedia: true });
    });

    it('waits for the load event when the page is still loading', async () => {
      vi.useFakeTimers();
      vi.spyOn(document, 'readyState', 'get').mockReturnValue('loading');
      const load = vi.fn(() => Promise.resolve({ installReplay: vi.fn() }));

      scheduleReplayLoad(load);
      await vi.runAllTimersAsync();
      expect(load).not.toHaveBeenCalled();

      window.dispatchEvent(new Event('load'));
      await vi.runAllTimersAsync();
      expect(load).toHaveBeenCalledTimes(1);
    });
  });
});

describe('captureApiError', () => {
  it('tags the event with the request ID, status and code', () => {
    const err = new ApiError({
      status: 404,
      code: 'not_found',
      message: 'post not found',
      requestId: 'abcdef0123456789abcdef0123456789',
      method: 'GET',
      path: '/api/posts/999999999',
    });

    expect(captureApiError(err)).toBe('event-id-1');
    expect(Sentry.captureException).toHaveBeenCalledWith(
      err,
      expect.objectContaining({
        tags: { 'api.status': '404', 'api.code': 'not_found', request_id: 'abcdef0123456789abcdef0123456789' },
      }),
    );
  });
});

describe('nameRoute', () => {
  const span = (op: string) => ({ op, updateName: vi.fn(), setAttributes: vi.fn() });
  const activate = (s: ReturnType<typeof span> | undefined) =>
    vi.mocked(Sentry.getActiveSpan).mockReturnValue(s as unknown as ReturnType<typeof Sentry.getActiveSpan>);

  it('names a navigation after its route pattern, not its URL', () => {
    const nav = span('navigation');
    activate(nav);

    nameRoute('/posts/:id');

    expect(nav.updateName).toHaveBeenCalledWith('/posts/:id');
    expect(nav.setAttributes).toHaveBeenCalledWith({ [SENTRY_SEGMENT_NAME_SOURCE]: 'route', [URL_TEMPLATE]: '/posts/:id' });
  });

  it('names a page load too', () => {
    const load = span('pageload');
    activate(load);

    nameRoute('/login');

    expect(load.updateName).toHaveBeenCalledWith('/login');
  });

  it('leaves other spans, and the absence of a span, alone', () => {
    const fetchSpan = span('http.client');
    activate(fetchSpan);
    nameRoute('/login');
    activate(undefined);
    nameRoute('/login');

    expect(fetchSpan.updateName).not.toHaveBeenCalled();
    expect(fetchSpan.setAttributes).not.toHaveBeenCalled();
  });
});
