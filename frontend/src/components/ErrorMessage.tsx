import { ApiError } from '../api';

/** errorText is the message to show a user for any thrown value. */
export function errorText(error: unknown): string {
  if (error instanceof Error && error.message) return error.message;
  return 'Something went wrong.';
}

interface Props {
  error: unknown;
  /** Shown instead of the error's own message. */
  message?: string | undefined;
  onRetry?: (() => void) | undefined;
}

/**
 * ErrorMessage shows what went wrong and, for API errors, the request ID: the
 * backend's trace ID, to find the matching logs and trace.
 */
export function ErrorMessage({ error, message, onRetry }: Props) {
  const requestId = error instanceof ApiError ? error.requestId : null;
  return (
    <div role="alert" className="alert alert-error">
      <p>{message ?? errorText(error)}</p>
      {requestId && (
        <p className="request-id">
          Request ID: <code>{requestId}</code>
        </p>
      )}
      {onRetry && (
        <button type="button" className="button-secondary" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}
