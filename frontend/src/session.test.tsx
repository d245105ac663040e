import { act, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SessionProvider, useSession } from './session';

function Status() {
  const { session, logIn, logOut } = useSession();
  return (
    <>
      <p data-testid="status">{session ? `in as ${session.userId}` : 'out'}</p>
      <button type="button" onClick={() => logIn({ token: 't', userId: 5, email: 'e@x.y', expiresAt: new Date(Date.now() + 60_000).toISOString() })}>
        in
      </button>
      <button type="button" onClick={logOut}>
        out
      </button>
    </>
  );
}

const renderStatus = () =>
  render(
    <SessionProvider>
      <Status />
    </SessionProvider>,
  );

describe('SessionProvider', () => {
  afterEach(() => vi.useRealTimers());

  it('restores a stored session that has not expired', () => {
    window.sessionStorage.setItem('blog.session', JSON.stringify({ token: 't', userId: 3, email: 'a@b.c', expiresAt: '2999-01-01T00:00:00Z' }));
    renderStatus();
    expect(screen.getByTestId('status')).toHaveTextContent('in as 3');
  });

  it('drops an expired or malformed stored session', () => {
    window.sessionStorage.setItem('blog.session', JSON.stringify({ token: 't', userId: 3, email: 'a@b.c', expiresAt: '2000-01-01T00:00:00Z' }));
    const { unmount } = renderStatus();
    expect(screen.getByTestId('status')).toHaveTextContent('out');
    unmount();

    window.sessionStorage.setItem('blog.session', '{"token":42');
    renderStatus();
    expect(screen.getByTestId('status')).toHaveTextContent('out');
  });

  it('stores the session in sessionStorage on login and removes it on logout', () => {
    renderStatus();
    act(() => screen.getByRole('button', { name: 'in' }).click());
    expect(JSON.parse(window.sessionStorage.getItem('blog.session') ?? '{}')).toMatchObject({ token: 't', userId: 5 });
    expect(window.localStorage.length).toBe(0);

    act(() => screen.getByRole('button', { name: 'out' }).click());
    expect(window.sessionStorage.getItem('blog.session')).toBeNull();
    expect(screen.getByTestId('status')).toHaveTextContent('out');
  });

  it('logs out when the token expires', () => {
    vi.useFakeTimers();
    renderStatus();
    act(() => screen.getByRole('button', { name: 'in' }).click());
    expect(screen.getByTestId('status')).toHaveTextContent('in as 5');

    act(() => {
      vi.advanceTimersByTime(60_001);
    });
    expect(screen.getByTestId('status')).toHaveTextContent('out');
    expect(window.sessionStorage.getItem('blog.session')).toBeNull();
  });
});
