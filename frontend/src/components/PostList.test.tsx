import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { SessionProvider } from '../session';
import { makePost } from '../test/fixtures';
import { REQUEST_ID, apiError, json, mockFetch } from '../test/http';
import { PostList, parsePage } from './PostList';

function renderList() {
  return render(
    <SessionProvider>
      <PostList />
    </SessionProvider>,
  );
}

/** A fake API with 45 posts, newest first. */
function fakePosts() {
  return mockFetch((call) => {
    const url = new URL(call.url, 'http://localhost');
    const page = Number(url.searchParams.get('page'));
    const perPage = Number(url.searchParams.get('per_page'));
    const ids = Array.from({ length: 45 }, (_, i) => 45 - i).slice((page - 1) * perPage, page * perPage);
    return json(200, { posts: ids.map((id) => makePost(id)), page, per_page: perPage, total: 45 });
  });
}

describe('PostList', () => {
  it('shows the first page, then pages forward and back through the URL', async () => {
    const { calls } = fakePosts();
    const user = userEvent.setup();
    renderList();

    expect(screen.getByRole('status')).toHaveTextContent(/loading posts/i);
    expect(await screen.findByRole('link', { name: 'Post number 45' })).toHaveAttribute('href', '/posts/45');
    expect(screen.getAllByRole('listitem')).toHaveLength(20);
    const nav = screen.getByRole('navigation', { name: 'Pagination' });
    expect(nav).toHaveTextContent('Page 1 of 3');
    expect(within(nav).queryByRole('link', { name: /newer/i })).toBeNull();
    expect(calls[0]?.url).toBe('/api/posts?page=1&per_page=20');

    await user.click(within(nav).getByRole('link', { name: /older/i }));
    expect(await screen.findByRole('link', { name: 'Post number 25' })).toBeInTheDocument();
    expect(window.location.search).toBe('?page=2');
    expect(calls.at(-1)?.url).toBe('/api/posts?page=2&per_page=20');

    await user.click(screen.getByRole('link', { name: /older/i }));
    expect(await screen.findByRole('link', { name: 'Post number 5' })).toBeInTheDocument();
    expect(screen.getAllByRole('listitem')).toHaveLength(5);
    expect(screen.getByRole('navigation', { name: 'Pagination' })).toHaveTextContent('Page 3 of 3');
    expect(screen.queryByRole('link', { name: /older/i })).toBeNull();

    await user.click(screen.getByRole('link', { name: /newer/i }));
    expect(await screen.findByRole('link', { name: 'Post number 25' })).toBeInTheDocument();
    expect(window.location.search).toBe('?page=2');
  });

  it('follows the browser back button', async () => {
    fakePosts();
    const user = userEvent.setup();
    renderList();
    await user.click(await screen.findByRole('link', { name: /older/i }));
    await screen.findByRole('link', { name: 'Post number 25' });

    window.history.back();

    expect(await screen.findByRole('link', { name: 'Post number 45' })).toBeInTheDocument();
  });

  it('shows an error with the request ID, and retries', async () => {
    let fail = true;
    const { calls } = mockFetch(() =>
      fail ? apiError(503, 'unavailable', 'The database is not reachable.') : json(200, { posts: [makePost(1)], page: 1, per_page: 20, total: 1 }),
    );
    const user = userEvent.setup();
    renderList();

    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('The database is not reachable.');
    expect(alert).toHaveTextContent(`Request ID: ${REQUEST_ID}`);

    fail = false;
    await user.click(within(alert).getByRole('button', { name: 'Try again' }));
    expect(await screen.findByRole('link', { name: 'Post number 1' })).toBeInTheDocument();
    expect(calls).toHaveLength(2);
    // A single page needs no pagination.
    expect(screen.queryByRole('navigation', { name: 'Pagination' })).toBeNull();
  });

  it('invites to write the first post when there are none', async () => {
    mockFetch(() => json(200, { posts: [], page: 1, per_page: 20, total: 0 }));
    renderList();
    expect(await screen.findByRole('link', { name: /write the first one/i })).toHaveAttribute('href', '/posts/new');
  });

  it('reads the page number defensively', () => {
    expect(parsePage(new URLSearchParams('page=3'))).toBe(3);
    expect(parsePage(new URLSearchParams(''))).toBe(1);
    expect(parsePage(new URLSearchParams('page=0'))).toBe(1);
    expect(parsePage(new URLSearchParams('page=-2'))).toBe(1);
    expect(parsePage(new URLSearchParams('page=1.5'))).toBe(1);
    expect(parsePage(new URLSearchParams('page=abc'))).toBe(1);
  });
});
