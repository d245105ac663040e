// Test helpers for code that calls fetch.
import { vi } from 'vitest';

export const REQUEST_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

/** json builds a JSON Response the way the Go API sends one, X-Request-Id included. */
export function json(status: number, body: unknown, requestId = REQUEST_ID): Response {
  return new Response(status === 204 ? null : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', 'X-Request-Id': requestId },
  });
}

export function apiError(status: number, code: string, message: string, fields?: Record<string, string>): Response {
  return json(status, { error: { code, message, ...(fields ? { fields } : {}) } });
}

export interface Call {
  method: string;
  url: string;
  headers: Headers;
  body: unknown;
}

type Handler = (call: Call) => Response | Promise<Response>;

/**
 * mockFetch replaces fetch with handler and records every call. Requests
 * whose signal aborts reject like the real fetch.
 */
export function mockFetch(handler: Handler) {
  const calls: Call[] = [];
  const fn = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const call: Call = {
      method: init.method ?? 'GET',
      url: typeof input === 'string' ? input : input instanceof URL ? input.href : input.url,
      headers: new Headers(init.headers),
      body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
    };
    calls.push(call);
    init.signal?.throwIfAborted();
    return handler(call);
  });
  vi.stubGlobal('fetch', fn);
  return { calls, fn };
}
