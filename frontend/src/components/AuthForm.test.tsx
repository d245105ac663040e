import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { navigate } from '../router';
import { SessionProvider } from '../session';
import { REQUEST_ID, apiError, json, mockFetch } from '../test/http';
import { renderWithSession } from '../test/render';
import { LoginForm, RegisterForm } from './AuthForm';

describe('LoginForm', () => {
  it('shows the API field messages next to their fields', async () => {
    mockFetch(() => apiError(422, 'validation_failed', 'Validation failed', { email: 'must be a valid email address' }));
    const user = userEvent.setup();
    renderWithSession(<LoginForm />);

    await user.type(screen.getByLabelText('Email'), 'a@b');
    await user.type(screen.getByLabelText('Password'), 'whatever1');
    await user.click(screen.getByRole('button', { name: 'Log in' }));

    const email = screen.getByLabelText('Email');
    expect(await screen.findByText('must be a valid email address')).toBeInTheDocument();
    expect(email).toHaveAttribute('aria-invalid', 'true');
    expect(email).toHaveAccessibleDescription('must be a valid email address');
    expect(screen.getByLabelText('Password')).toHaveAttribute('aria-invalid', 'false');
    expect(screen.getByRole('alert')).toHaveTextContent('Please correct the fields below.');
    expect(screen.getByRole('alert')).toHaveTextContent(`Request ID: ${REQUEST_ID}`);
  });

  it('shows wrong credentials with the request ID and stays logged out', async () => {
    mockFetch(() => apiError(401, 'invalid_credentials', 'Wrong email or password.'));
    const user = userEvent.setup();
    renderWithSession(<LoginForm />);

    await user.type(screen.getByLabelText('Email'), 'a@b.c');
    await user.type(screen.getByLabelText('Password'), 'wrong-password');
    await user.click(screen.getByRole('button', { name: 'Log in' }));

    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Wrong email or password.');
    expect(alert).toHaveTextContent(`Request ID: ${REQUEST_ID}`);
    expect(screen.getByTestId('whoami')).toHaveTextContent('anonymous');
    expect(screen.getByRole('button', { name: 'Log in' })).toBeEnabled();
  });

  it('logs in, keeps the token in sessionStorage only, and goes back where the user came from', async () => {
    const { calls } = mockFetch(() => json(200, { token: 'tok-123', user_id: 9, expires_at: '2999-01-01T00:00:00Z' }));
    navigate('/login', { state: { from: '/posts/new' } });
    const user = userEvent.setup();
    renderWithSession(<LoginForm />);

    await user.type(screen.getByLabelText('Email'), ' me@example.com ');
    await user.type(screen.getByLabelText('Password'), 'correct horse');
    await user.click(screen.getByRole('button', { name: 'Log in' }));

    await waitFor(() => expect(screen.getByTestId('whoami')).toHaveTextContent('user 9'));
    expect(screen.getByTestId('path')).toHaveTextContent('/posts/new');
    expect(calls[0]?.body).toEqual({ email: 'me@example.com', password: 'correct horse' });
    const stored = JSON.parse(window.sessionStorage.getItem('blog.session') ?? 'null') as { token?: string } | null;
    expect(stored?.token).toBe('tok-123');
    expect(window.localStorage.length).toBe(0);
  });

  it('never redirects off the site after login', async () => {
    mockFetch(() => json(200, { token: 't', user_id: 1, expires_at: '2999-01-01T00:00:00Z' }));
    navigate('/login', { state: { from: '//evil.example/' } });
    const user = userEvent.setup();
    renderWithSession(<LoginForm />);

    await user.type(screen.getByLabelText('Email'), 'a@b.c');
    await user.type(screen.getByLabelText('Password'), 'password1');
    await user.click(screen.getByRole('button', { name: 'Log in' }));

    await waitFor(() => expect(screen.getByTestId('whoami')).toHaveTextContent('user 1'));
    expect(screen.getByTestId('path')).toHaveTextContent(/^\/$/);
  });
});

describe('RegisterForm', () => {
  it('shows a taken email on the email field', async () => {
    mockFetch(() => apiError(409, 'email_taken', 'This email is already registered.'));
    const user = userEvent.setup();
    renderWithSession(<RegisterForm />);

    await user.type(screen.getByLabelText('Email'), 'taken@example.com');
    await user.type(screen.getByLabelText(/password/i), 'long enough');
    await user.click(screen.getByRole('button', { name: 'Create account' }));

    expect(await screen.findByText('This email is already registered.')).toBeInTheDocument();
    expect(screen.getByLabelText('Email')).toHaveAttribute('aria-invalid', 'true');
  });

  it('asks for 8 characters, then sends the user to log in with the email filled in', async () => {
    const { calls } = mockFetch(() => json(201, { id: 3, email: 'new@example.com', created_at: '2026-01-01T00:00:00Z' }));
    const user = userEvent.setup();
    const { rerender } = renderWithSession(<RegisterForm />);

    expect(screen.getByLabelText(/password/i)).toHaveAttribute('minLength', '8');
    await user.type(screen.getByLabelText('Email'), 'new@example.com');
    await user.type(screen.getByLabelText(/password/i), 'long enough');
    await user.click(screen.getByRole('button', { name: 'Create account' }));

    await waitFor(() => expect(screen.getByTestId('path')).toHaveTextContent('/login'));
    expect(screen.getByTestId('whoami')).toHaveTextContent('anonymous');
    expect(calls[0]).toMatchObject({ method: 'POST', url: '/api/users', body: { email: 'new@example.com', password: 'long enough' } });
    // The email is not in the URL (URLs end up in logs and traces).
    expect(window.location.href).not.toContain('new%40example.com');
    expect(window.location.href).not.toContain('new@example.com');

    rerender(
      <SessionProvider>
        <LoginForm />
      </SessionProvider>,
    );
    expect(screen.getByLabelText('Email')).toHaveValue('new@example.com');
    expect(screen.getByRole('status')).toHaveTextContent(/account is ready/i);
  });
});
