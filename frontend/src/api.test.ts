import { describe, expect, it, vi } from 'vitest';
import { ApiError, createPost, deletePost, feedUrl, getPost, listPosts, login, parseFeedMessage } from './api';
import { REQUEST_ID, apiError, json, mockFetch } from './test/http';
import { makePost } from './test/fixtures';

describe('api client', () => {
  it('sends JSON with the bearer token and returns the created post', async () => {
    const { calls } = mockFetch(() => json(201, makePost(7, { title: 'Hello' })));

    const post = await createPost('secret-token', { title: 'Hello', body: 'World' });

    expect(post.id).toBe(7);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.method).toBe('POST');
    expect(calls[0]?.url).toBe('/api/posts');
    expect(calls[0]?.headers.get('Authorization')).toBe('Bearer secret-token');
    expect(calls[0]?.headers.get('Content-Type')).toBe('application/json');
    expect(calls[0]?.body).toEqual({ title: 'Hello', body: 'World' });
  });

  it('does not send an Authorization header without a token', async () => {
    const { calls } = mockFetch(() => json(200, { posts: [], page: 2, per_page: 5, total: 0 }));
    await listPosts(2, 5);
    expect(calls[0]?.url).toBe('/api/posts?page=2&per_page=5');
    expect(calls[0]?.headers.has('Authorization')).toBe(false);
  });

  it('turns an error body into an ApiError with code, fields and request ID', async () => {
    mockFetch(() => apiError(422, 'validation_failed', 'Invalid input', { title: 'must not be empty' }));

    const err = await createPost('t', { title: '', body: 'x' }).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ApiError);
    const e = err as ApiError;
    expect(e.status).toBe(422);
    expect(e.code).toBe('validation_failed');
    expect(e.message).toBe('Invalid input');
    expect(e.fields).toEqual({ title: 'must not be empty' });
    expect(e.requestId).toBe(REQUEST_ID);
    expect(e.method).toBe('POST');
    expect(e.path).toBe('/api/posts');
  });

  it('falls back to a readable message when the error body is not JSON', async () => {
    mockFetch(() => new Response('<html>bad gateway</html>', { status: 502, headers: { 'X-Request-Id': 'abc' } }));
    const e = (await getPost(1).catch((x: unknown) => x)) as ApiError;
    expect(e.code).toBe('http_502');
    expect(e.message).toMatch(/server had a problem/);
    expect(e.requestId).toBe('abc');
  });

  it('reports an unreachable server as a network_error without request ID', async () => {
    vi.stubGlobal('fetch', vi.fn(() => Promise.reject(new TypeError('Failed to fetch'))));
    const e = (await login({ email: 'a@b.c', password: 'x' }).catch((x: unknown) => x)) as ApiError;
    expect(e).toBeInstanceOf(ApiError);
    expect(e.status).toBe(0);
    expect(e.code).toBe('network_error');
    expect(e.requestId).toBeNull();
    expect(e.cause).toBeInstanceOf(TypeError);
  });

  it('lets an aborted request reject with the AbortError itself', async () => {
    mockFetch(() => json(200, makePost(1)));
    const ac = new AbortController();
    ac.abort();
    const e = await getPost(1, ac.signal).catch((x: unknown) => x);
    expect(e).not.toBeInstanceOf(ApiError);
    expect((e as DOMException).name).toBe('AbortError');
  });

  it('resolves a 204 to undefined', async () => {
    const { calls } = mockFetch(() => json(204, null));
    await expect(deletePost('t', 3)).resolves.toBeUndefined();
    expect(calls[0]?.method).toBe('DELETE');
    expect(calls[0]?.url).toBe('/api/posts/3');
  });
});

describe('feed', () => {
  it('builds the WebSocket URL from the page URL', () => {
    expect(feedUrl({ protocol: 'http:', host: 'localhost:5173' })).toBe('ws://localhost:5173/api/ws');
    expect(feedUrl({ protocol: 'https:', host: 'blog.example' })).toBe('wss://blog.example/api/ws');
  });

  it('parses post.created messages and rejects everything else', () => {
    const post = makePost(5);
    expect(parseFeedMessage(JSON.stringify({ type: 'post.created', post }))).toEqual({ type: 'post.created', post });
    expect(parseFeedMessage(JSON.stringify({ type: 'post.deleted', post }))).toBeNull();
    expect(parseFeedMessage(JSON.stringify({ type: 'post.created', post: { id: '5' } }))).toBeNull();
    expect(parseFeedMessage('not json')).toBeNull();
    expect(parseFeedMessage(new ArrayBuffer(2))).toBeNull();
  });
});
