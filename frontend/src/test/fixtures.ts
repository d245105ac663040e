import type { Post } from '../api';
import type { Session } from '../session';

export function makePost(id: number, overrides: Partial<Post> = {}): Post {
  return {
    id,
    title: `Post number ${id}`,
    body: `Body of post ${id}`,
    author_id: 1,
    created_at: '2026-01-02T03:04:05Z',
    updated_at: '2026-01-02T03:04:05Z',
    ...overrides,
  };
}

/** logInAs stores a session the way the login form does, before the app renders. */
export function logInAs(userId: number, email = `user${userId}@example.com`): Session {
  const session: Session = {
    token: `token-for-${userId}`,
    userId,
    email,
    expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
  };
  window.sessionStorage.setItem('blog.session', JSON.stringify(session));
  return session;
}
