import { fireEvent, render, screen } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { Link, matchPath, navigate, useLocation } from './router';

describe('matchPath', () => {
  it('matches static and parameterised patterns', () => {
    expect(matchPath('/', '/')).toEqual({});
    expect(matchPath('/login', '/login')).toEqual({});
    expect(matchPath('/login', '/login/')).toEqual({});
    expect(matchPath('/posts/:id', '/posts/42')).toEqual({ id: '42' });
    expect(matchPath('/posts/:id/edit', '/posts/42/edit')).toEqual({ id: '42' });
    expect(matchPath('/posts/:id', '/posts/a%20b')).toEqual({ id: 'a b' });
  });

  it('rejects paths of another shape', () => {
    expect(matchPath('/', '/login')).toBeNull();
    expect(matchPath('/posts/:id', '/posts')).toBeNull();
    expect(matchPath('/posts/:id', '/posts/42/edit')).toBeNull();
    expect(matchPath('/posts/:id/edit', '/posts//edit')).toBeNull();
    expect(matchPath('/posts/:id', '/posts/%E0%A4%A')).toBeNull();
  });
});

function Where() {
  const { pathname, search } = useLocation();
  return (
    <p data-testid="where">
      {pathname}
      {search.toString() && `?${search.toString()}`}
    </p>
  );
}

describe('Link and navigate', () => {
  it('navigates without a page load and re-renders subscribers', () => {
    render(
      <>
        <Link to="/posts/3?x=1">three</Link>
        <Where />
      </>,
    );
    fireEvent.click(screen.getByRole('link', { name: 'three' }));
    expect(window.location.pathname).toBe('/posts/3');
    expect(screen.getByTestId('where')).toHaveTextContent('/posts/3?x=1');
  });

  it('leaves modified clicks (new tab) to the browser', () => {
    const push = vi.spyOn(window.history, 'pushState');
    // Stands in for the browser opening a tab (jsdom would try to navigate); runs after React's handler.
    const openTab = (e: MouseEvent) => e.preventDefault();
    document.addEventListener('click', openTab);
    render(<Link to="/elsewhere">away</Link>);
    const notCancelled = fireEvent.click(screen.getByRole('link', { name: 'away' }), { ctrlKey: true });
    document.removeEventListener('click', openTab);
    expect(push).not.toHaveBeenCalled();
    expect(window.location.pathname).toBe('/');
    expect(notCancelled).toBe(false); // only our stand-in cancelled it
  });

  it('replaces the history entry when asked', () => {
    const replace = vi.spyOn(window.history, 'replaceState');
    navigate('/a', { replace: true, state: { k: 1 } });
    expect(replace).toHaveBeenCalledWith({ k: 1 }, '', '/a');
    expect(window.history.state).toEqual({ k: 1 });
  });
});
