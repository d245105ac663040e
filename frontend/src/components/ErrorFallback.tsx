import type { ReactNode } from 'react';
import { ErrorBoundary, sentryEnabled } from '../sentry';
import { errorText } from './ErrorMessage';

interface FallbackProps {
  error: unknown;
  eventId: string;
  resetError: () => void;
}

/**
 * ErrorFallback replaces the app after a render error, with the Sentry event
 * ID to quote (only when Sentry is on: otherwise the ID would lead nowhere).
 */
export function ErrorFallback({ error, eventId, resetError }: FallbackProps) {
  const reported = sentryEnabled() && eventId;
  return (
    <div role="alert" className="fallback">
      <h1>Something went wrong</h1>
      <p>{errorText(error)}</p>
      {reported && (
        <p className="request-id">
          Event ID: <code>{eventId}</code>
        </p>
      )}
      <button type="button" onClick={resetError}>
        Try again
      </button>
    </div>
  );
}

/**
 * AppErrorBoundary reports render errors to Sentry (when it is set up) and
 * shows ErrorFallback; "Try again" renders the children afresh.
 */
export function AppErrorBoundary({ children }: { children: ReactNode }) {
  return <ErrorBoundary fallback={(props) => <ErrorFallback {...props} />}>{children}</ErrorBoundary>;
}
