import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { logInAs, makePost } from '../test/fixtures';
import { REQUEST_ID, apiError, json, mockFetch } from '../test/http';
import { renderWithSession } from '../test/render';
import { PostView } from './PostView';

describe('PostView', () => {
  it('offers edit and delete to the author', async () => {
    logInAs(1);
    mockFetch(() => json(200, makePost(4, { author_id: 1, title: 'Mine' })));
    renderWithSession(<PostView id={4} />);

    expect(await screen.findByRole('heading', { name: 'Mine' })).toBeInTheDocument();
    expect(screen.getByText(/by you/)).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'Edit' })).toHaveAttribute('href', '/posts/4/edit');
    expect(screen.getByRole('button', { name: 'Delete' })).toBeInTheDocument();
  });

  it('offers neither to another user nor to a visitor', async () => {
    mockFetch(() => json(200, makePost(4, { author_id: 1, title: 'Not mine' })));
    logInAs(2);
    const { unmount } = renderWithSession(<PostView id={4} />);
    expect(await screen.findByRole('heading', { name: 'Not mine' })).toBeInTheDocument();
    expect(screen.getByText(/by user #1/)).toBeInTheDocument();
    expect(screen.queryByRole('link', { name: 'Edit' })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Delete' })).toBeNull();
    unmount();

    window.sessionStorage.clear();
    renderWithSession(<PostView id={4} />);
    expect(await screen.findByRole('heading', { name: 'Not mine' })).toBeInTheDocument();
    expect(screen.queryByRole('link', { name: 'Edit' })).toBeNull();
  });

  it('deletes after confirmation, with the token, and goes home', async () => {
    logInAs(1);
    const { calls } = mockFetch((call) => (call.method === 'DELETE' ? json(204, null) : json(200, makePost(4))));
    const user = userEvent.setup();
    renderWithSession(<PostView id={4} />);

    await user.click(await screen.findByRole('button', { name: 'Delete' }));
    expect(calls.filter((c) => c.method === 'DELETE')).toHaveLength(0);
    await user.click(screen.getByRole('button', { name: 'Yes, delete' }));

    await waitFor(() => expect(screen.getByTestId('path')).toHaveTextContent(/^\/$/));
    const del = calls.find((c) => c.method === 'DELETE');
    expect(del?.url).toBe('/api/posts/4');
    expect(del?.headers.get('Authorization')).toBe('Bearer token-for-1');
  });

  it('shows a missing post as not found, with the request ID', async () => {
    mockFetch(() => apiError(404, 'not_found', 'Post not found.'));
    renderWithSession(<PostView id={999} />);
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Post not found.');
    expect(alert).toHaveTextContent(`Request ID: ${REQUEST_ID}`);
  });
});
