import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { logInAs, makePost } from '../test/fixtures';
import { REQUEST_ID, apiError, json, mockFetch } from '../test/http';
import { renderWithSession } from '../test/render';
import { EditPost, NewPost } from './PostEditor';

describe('EditPost', () => {
  it('refuses to edit somebody else’s post', async () => {
    logInAs(2);
    const { calls } = mockFetch(() => json(200, makePost(4, { author_id: 1 })));
    renderWithSession(<EditPost id={4} />);

    expect(await screen.findByRole('alert')).toHaveTextContent('You can only edit your own posts.');
    expect(screen.queryByRole('textbox', { name: /title/i })).toBeNull();
    expect(calls.every((c) => c.method === 'GET')).toBe(true);
  });

  it('asks a visitor to log in', () => {
    mockFetch(() => json(200, makePost(4)));
    renderWithSession(<EditPost id={4} />);
    expect(screen.getByRole('link', { name: 'Log in' })).toHaveAttribute('href', '/login');
    expect(screen.queryByRole('textbox')).toBeNull();
  });

  it('lets the author change the post with PUT', async () => {
    logInAs(1);
    const { calls } = mockFetch((call) =>
      call.method === 'PUT' ? json(200, makePost(4, { title: 'New title' })) : json(200, makePost(4, { title: 'Old title', body: 'Old body' })),
    );
    const user = userEvent.setup();
    renderWithSession(<EditPost id={4} />);

    const title = await screen.findByRole('textbox', { name: /title/i });
    expect(title).toHaveValue('Old title');
    await user.clear(title);
    await user.type(title, 'New title');
    await user.click(screen.getByRole('button', { name: 'Save changes' }));

    await waitFor(() => expect(screen.getByTestId('path')).toHaveTextContent('/posts/4'));
    const put = calls.find((c) => c.method === 'PUT');
    expect(put).toMatchObject({ url: '/api/posts/4', body: { title: 'New title', body: 'Old body' } });
    expect(put?.headers.get('Authorization')).toBe('Bearer token-for-1');
  });

  it('shows a 403 from the API (someone else’s post after all) with the request ID', async () => {
    logInAs(1);
    mockFetch((call) => (call.method === 'PUT' ? apiError(403, 'forbidden', 'You are not the author of this post.') : json(200, makePost(4))));
    const user = userEvent.setup();
    renderWithSession(<EditPost id={4} />);

    await user.click(await screen.findByRole('button', { name: 'Save changes' }));
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('You are not the author of this post.');
    expect(alert).toHaveTextContent(`Request ID: ${REQUEST_ID}`);
  });
});

describe('NewPost', () => {
  it('shows the API validation messages under the fields', async () => {
    logInAs(1);
    mockFetch(() => apiError(422, 'validation_failed', 'Validation failed', { body: 'must be at most 10000 characters' }));
    const user = userEvent.setup();
    renderWithSession(<NewPost />);

    await user.type(screen.getByRole('textbox', { name: /title/i }), 'Title');
    await user.type(screen.getByRole('textbox', { name: /body/i }), 'Some body');
    await user.click(screen.getByRole('button', { name: 'Publish' }));

    expect(await screen.findByText('must be at most 10000 characters')).toBeInTheDocument();
    expect(screen.getByRole('textbox', { name: /body/i })).toHaveAttribute('aria-invalid', 'true');
    expect(screen.getByRole('textbox', { name: /title/i })).toHaveAttribute('aria-invalid', 'false');
    expect(screen.getByRole('alert')).toHaveTextContent('Please correct the fields below.');
    expect(screen.getByRole('alert')).toHaveTextContent(`Request ID: ${REQUEST_ID}`);
  });

  it('publishes with the bearer token and opens the new post', async () => {
    logInAs(1);
    const { calls } = mockFetch(() => json(201, makePost(12)));
    const user = userEvent.setup();
    renderWithSession(<NewPost />);

    await user.type(screen.getByRole('textbox', { name: /title/i }), '  Hello  ');
    await user.type(screen.getByRole('textbox', { name: /body/i }), 'World');
    await user.click(screen.getByRole('button', { name: 'Publish' }));

    await waitFor(() => expect(screen.getByTestId('path')).toHaveTextContent('/posts/12'));
    expect(calls[0]).toMatchObject({ method: 'POST', url: '/api/posts', body: { title: 'Hello', body: 'World' } });
    expect(calls[0]?.headers.get('Authorization')).toBe('Bearer token-for-1');
  });

  it('is replaced by a login link for visitors', () => {
    renderWithSession(<NewPost />);
    expect(screen.getByRole('link', { name: 'Log in' })).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Publish' })).toBeNull();
  });
});
