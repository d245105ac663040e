import { useState, type FormEvent, type ReactNode } from 'react';
import { ApiError, login, register } from '../api';
import { Link, navigate, useLocation } from '../router';
import { useSession } from '../session';
import { ErrorMessage } from './ErrorMessage';
import { Field } from './Field';

export const PASSWORD_MIN = 8;

interface AuthState {
  /** Where to go after logging in: a path on this site. */
  from?: string | undefined;
  /** Set by the register form to pre-fill the login form. */
  email?: string | undefined;
  registered?: boolean;
}

/** readState reads the history state given to the login page, which any script could have set. */
function readState(state: unknown): AuthState {
  if (typeof state !== 'object' || state === null) return {};
  const s = state as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const from = str(s.from);
  return {
    // Only paths on this site: never "//evil.example", "/\\evil.example" or "https://…".
    from: from && /^\/(?![/\\])/.test(from) ? from : undefined,
    email: str(s.email),
    registered: s.registered === true,
  };
}

/**
 * fieldErrors returns the per-field messages of an API error: the API's own
 * fields, plus email_taken shown on the email field.
 */
function fieldErrors(error: unknown): Record<string, string> {
  if (!(error instanceof ApiError)) return {};
  if (error.code === 'email_taken' && !error.fields.email) return { ...error.fields, email: error.message };
  return error.fields;
}

export function LoginForm() {
  const { state } = useLocation();
  const { from, email: registeredEmail, registered } = readState(state);
  const { logIn } = useSession();

  return (
    <AuthForm
      title="Log in"
      submitLabel="Log in"
      busyLabel="Logging in…"
      initialEmail={registeredEmail ?? ''}
      notice={registered ? 'Your account is ready: log in to start writing.' : undefined}
      footer={
        <>
          No account yet? <Link to="/register">Register</Link>
        </>
      }
      onSubmit={async (credentials) => {
        const res = await login(credentials);
        logIn({ token: res.token, userId: res.user_id, email: credentials.email, expiresAt: res.expires_at });
        navigate(from ?? '/', { replace: true });
      }}
    />
  );
}

export function RegisterForm() {
  return (
    <AuthForm
      title="Register"
      submitLabel="Create account"
      busyLabel="Creating your account…"
      passwordMinLength={PASSWORD_MIN}
      footer={
        <>
          Already registered? <Link to="/login">Log in</Link>
        </>
      }
      onSubmit={async (credentials) => {
        await register(credentials);
        // The email travels in history state, never in the URL (URLs end up in logs and traces).
        navigate('/login', { state: { email: credentials.email, registered: true } });
      }}
    />
  );
}

interface AuthFormProps {
  title: string;
  submitLabel: string;
  busyLabel: string;
  initialEmail?: string;
  notice?: string | undefined;
  passwordMinLength?: number;
  footer: ReactNode;
  onSubmit: (credentials: { email: string; password: string }) => Promise<void>;
}

function AuthForm({ title, submitLabel, busyLabel, initialEmail = '', notice, passwordMinLength, footer, onSubmit }: AuthFormProps) {
  const [email, setEmail] = useState(initialEmail);
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const fields = fieldErrors(error);
  const hasFieldErrors = Object.keys(fields).length > 0;

  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onSubmit({ email: email.trim(), password });
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <form className="form form-narrow" onSubmit={(e) => void submit(e)} aria-labelledby="auth-heading">
      <h1 id="auth-heading">{title}</h1>
      {notice && (
        <p className="alert alert-info" role="status">
          {notice}
        </p>
      )}
      {error !== null && (
        <ErrorMessage error={error} message={hasFieldErrors ? 'Please correct the fields below.' : undefined} />
      )}
      <Field label="Email" error={fields.email}>
        {(props) => (
          <input
            {...props}
            type="email"
            autoComplete="email"
            value={email}
            onChange={(e) => setEmail(e.target.value)}
            required
            autoFocus={!initialEmail}
          />
        )}
      </Field>
      <Field
        label="Password"
        error={fields.password}
        hint={passwordMinLength ? `at least ${passwordMinLength} characters` : undefined}
      >
        {(props) => (
          <input
            {...props}
            type="password"
            autoComplete={passwordMinLength ? 'new-password' : 'current-password'}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
            minLength={passwordMinLength}
            autoFocus={Boolean(initialEmail)}
          />
        )}
      </Field>
      <div className="actions">
        <button type="submit" disabled={busy}>
          {busy ? busyLabel : submitLabel}
        </button>
      </div>
      <p className="form-footer">{footer}</p>
    </form>
  );
}
