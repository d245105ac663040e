// Typed client for the blog API. Every call to the backend goes through this
// module, so errors have one shape (ApiError) and always carry the request ID.

export interface Post {
  id: number;
  title: string;
  body: string;
  author_id: number;
  created_at: string;
  updated_at: string;
}

export interface PostPage {
  posts: Post[];
  page: number;
  per_page: number;
  total: number;
}

export interface User {
  id: number;
  email: string;
  created_at: string;
}

export interface LoginResponse {
  token: string;
  user_id: number;
  expires_at: string;
}

export interface Credentials {
  email: string;
  password: string;
}

export interface PostInput {
  title: string;
  body: string;
}

/** Runtime configuration served by the Go app at GET /api/config. */
export interface RuntimeConfig {
  sentry?: {
    dsn?: string;
    environment?: string;
    tracesSampleRate?: number;
  };
}

/** A message pushed by the server on the /api/ws WebSocket. */
export interface FeedMessage {
  type: 'post.created';
  post: Post;
}

interface ErrorBody {
  error?: {
    code?: string;
    message?: string;
    fields?: Record<string, string>;
  };
}

/**
 * ApiError is a failed API call: a non-2xx response, or no response at all
 * (status 0, code "network_error").
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: number;
  readonly code: string;
  /** Field-level validation messages, keyed by request field name. */
  readonly fields: Readonly<Record<string, string>>;
  /** The X-Request-Id response header: the backend's trace ID for this request. */
  readonly requestId: string | null;
  readonly method: string;
  readonly path: string;

  constructor(init: {
    status: number;
    code: string;
    message: string;
    fields?: Record<string, string> | undefined;
    requestId: string | null;
    method: string;
    path: string;
    cause?: unknown;
  }) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status;
    this.code = init.code;
    this.fields = init.fields ?? {};
    this.requestId = init.requestId;
    this.method = init.method;
    this.path = init.path;
  }
}

export const DEFAULT_PER_PAGE = 20;

/** isAbortError tells whether err comes from an aborted request (by name: DOMException may come from another realm). */
export function isAbortError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'AbortError';
}

const STATUS_MESSAGES: Record<number, string> = {
  400: 'The request was not valid.',
  401: 'You need to log in.',
  403: 'You are not allowed to do that.',
  404: 'Not found.',
  409: 'That conflicts with existing data.',
  422: 'Some fields are not valid.',
  429: 'Too many requests; try again in a moment.',
};

function fallbackMessage(status: number): string {
  return STATUS_MESSAGES[status] ?? (status >= 500 ? 'The server had a problem; try again later.' : `Request failed (HTTP ${status}).`);
}

interface RequestOptions {
  body?: unknown;
  token?: string | null | undefined;
  signal?: AbortSignal | undefined;
}

async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;

  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: opts.body === undefined ? null : JSON.stringify(opts.body),
      signal: opts.signal ?? null,
      credentials: 'same-origin',
    });
  } catch (err) {
    // Let aborts through untouched: callers ignore them.
    if (isAbortError(err)) throw err;
    throw new ApiError({
      status: 0,
      code: 'network_error',
      message: 'Could not reach the server. Check your connection and try again.',
      requestId: null,
      method,
      path,
      cause: err,
    });
  }

  const requestId = res.headers.get('X-Request-Id');
  if (res.status === 204) return undefined as T;

  const text = await res.text();
  let data: unknown = undefined;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = undefined;
    }
  }

  if (!res.ok) {
    const e = (data as ErrorBody | undefined)?.error;
    throw new ApiError({
      status: res.status,
      code: e?.code ?? `http_${res.status}`,
      message: e?.message || fallbackMessage(res.status),
      fields: e?.fields,
      requestId,
      method,
      path,
    });
  }
  if (data === undefined) {
    throw new ApiError({
      status: res.status,
      code: 'bad_response',
      message: 'The server sent a response this page cannot read.',
      requestId,
      method,
      path,
    });
  }
  return data as T;
}

export function register(credentials: Credentials): Promise<User> {
  return request<User>('POST', '/api/users', { body: credentials });
}

export function login(credentials: Credentials): Promise<LoginResponse> {
  return request<LoginResponse>('POST', '/api/login', { body: credentials });
}

export function listPosts(page: number, perPage = DEFAULT_PER_PAGE, signal?: AbortSignal): Promise<PostPage> {
  const q = new URLSearchParams({ page: String(page), per_page: String(perPage) });
  return request<PostPage>('GET', `/api/posts?${q.toString()}`, { signal });
}

export function getPost(id: number, signal?: AbortSignal): Promise<Post> {
  return request<Post>('GET', `/api/posts/${encodeURIComponent(String(id))}`, { signal });
}

export function createPost(token: string, input: PostInput): Promise<Post> {
  return request<Post>('POST', '/api/posts', { body: input, token });
}

export function updatePost(token: string, id: number, input: PostInput): Promise<Post> {
  return request<Post>('PUT', `/api/posts/${encodeURIComponent(String(id))}`, { body: input, token });
}

export function deletePost(token: string, id: number): Promise<void> {
  return request<void>('DELETE', `/api/posts/${encodeURIComponent(String(id))}`, { token });
}

/** getConfig fetches the runtime configuration; it is given up on after timeoutMs. */
export function getConfig(timeoutMs: number): Promise<RuntimeConfig> {
  return request<RuntimeConfig>('GET', '/api/config', { signal: AbortSignal.timeout(timeoutMs) });
}

/** feedUrl is the absolute ws:// or wss:// URL of the live feed on this origin. */
export function feedUrl(location: Pick<Location, 'protocol' | 'host'> = window.location): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/api/ws`;
}

/** parseFeedMessage returns the message if it is one this client understands, else null. */
export function parseFeedMessage(data: unknown): FeedMessage | null {
  if (typeof data !== 'string') return null;
  let msg: unknown;
  try {
    msg = JSON.parse(data);
  } catch {
    return null;
  }
  if (typeof msg !== 'object' || msg === null) return null;
  const m = msg as { type?: unknown; post?: unknown };
  if (m.type !== 'post.created' || !isPost(m.post)) return null;
  return { type: 'post.created', post: m.post };
}

function isPost(v: unknown): v is Post {
  if (typeof v !== 'object' || v === null) return false;
  const p = v as Record<string, unknown>;
  return typeof p.id === 'number' && typeof p.title === 'string' && typeof p.author_id === 'number';
}
