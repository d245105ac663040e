import { useState } from 'react';
import { getPost } from '../api';
import { captureApiError, sentryEnabled } from '../sentry';
import { ErrorMessage } from './ErrorMessage';

/** MISSING_POST_ID is a post that does not exist: fetching it fails with 404. */
export const MISSING_POST_ID = 999999999;

function Crash(): never {
  throw new Error('Demo render error, thrown on purpose from the "Trigger an error" panel');
}

type Outcome = { kind: 'captured'; error: unknown; eventId: string | null } | { kind: 'unexpected-success' };

/**
 * TriggerError is the demo's way to produce errors on demand: a render error
 * (caught by the error boundary) and a failed API call (reported with
 * Sentry.captureException). Both carry the trace ID of the request or page.
 */
export function TriggerError() {
  const [crash, setCrash] = useState(false);
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<Outcome | null>(null);

  const failApiCall = async () => {
    setBusy(true);
    setOutcome(null);
    try {
      await getPost(MISSING_POST_ID);
      setOutcome({ kind: 'unexpected-success' });
    } catch (error) {
      const eventId = captureApiError(error);
      setOutcome({ kind: 'captured', error, eventId: sentryEnabled() ? eventId : null });
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="panel demo" aria-labelledby="demo-heading">
      <h2 id="demo-heading">Trigger an error</h2>
      <p className="muted">Send an error to Sentry, then find it by trace ID in Grafana.</p>
      <div className="actions">
        <button type="button" className="button-danger" onClick={() => setCrash(true)}>
          Render error
        </button>
        <button type="button" className="button-danger" disabled={busy} onClick={() => void failApiCall()}>
          {busy ? 'Calling…' : 'Failed API call'}
        </button>
      </div>
      {crash && <Crash />}
      {outcome?.kind === 'captured' && (
        <div className="demo-outcome">
          <ErrorMessage error={outcome.error} />
          <p className="request-id">
            {outcome.eventId ? (
              <>
                Sent to Sentry as event <code>{outcome.eventId}</code>
              </>
            ) : (
              'Sentry is not configured (no DSN), so this error was only shown here.'
            )}
          </p>
        </div>
      )}
      {outcome?.kind === 'unexpected-success' && (
        <p className="alert alert-info">Post {MISSING_POST_ID} exists, so the call did not fail. Delete it to try again.</p>
      )}
    </section>
  );
}
