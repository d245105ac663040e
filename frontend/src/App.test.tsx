import { render, screen } from '@testing-library/react';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { App, route } from './App';
import { navigate } from './router';
import { makePost } from './test/fixtures';
import { json, mockFetch } from './test/http';

describe('route', () => {
  it('maps paths to bounded route patterns', () => {
    expect(route('/').pattern).toBe('/');
    expect(route('/login').pattern).toBe('/login');
    expect(route('/register').pattern).toBe('/register');
    expect(route('/posts/new').pattern).toBe('/posts/new');
    expect(route('/posts/12').pattern).toBe('/posts/:id');
    expect(route('/posts/12/edit').pattern).toBe('/posts/:id/edit');
  });

  it('sends anything else, including bad IDs, to "not found"', () => {
    for (const path of ['/nope', '/posts/abc', '/posts/0', '/posts/-1', '/posts/1e3', '/posts/12/delete']) {
      expect(route(path).pattern, path).toBe('<not found>');
    }
  });
});

describe('App', () => {
  beforeEach(() => {
    // The live feed's socket never connects in these tests.
    vi.stubGlobal(
      'WebSocket',
      class {
        close() {}
      },
    );
  });

  it('renders the page for the URL, with the live feed and the error demo', async () => {
    mockFetch(() => json(200, makePost(3, { title: 'Deep link' })));
    navigate('/posts/3');
    render(<App />);

    expect(await screen.findByRole('heading', { name: 'Deep link' })).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'Log in' })).toBeInTheDocument();
    expect(screen.getByRole('region', { name: /live feed/i })).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Failed API call' })).toBeInTheDocument();
  });

  it('shows "not found" for unknown paths', () => {
    navigate('/no/such/page');
    render(<App />);
    expect(screen.getByRole('heading', { name: 'Page not found' })).toBeInTheDocument();
  });
});
