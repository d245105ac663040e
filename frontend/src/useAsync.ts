import { useCallback, useEffect, useEffectEvent, useState } from 'react';
import { reportUnexpected } from './sentry';

export type AsyncState<T> =
  | { status: 'loading' }
  | { status: 'error'; error: unknown }
  | { status: 'success'; data: T };

type Settled<T> = { key: string } & ({ status: 'error'; error: unknown } | { status: 'success'; data: T });

/**
 * useAsync runs load whenever key changes (and on reload), aborting the
 * previous run. The state is "loading" until the run for the current key settles.
 */
export function useAsync<T>(key: string, load: (signal: AbortSignal) => Promise<T>): AsyncState<T> & { reload: () => void } {
  const [attempt, setAttempt] = useState(0);
  const [settled, setSettled] = useState<Settled<T> | null>(null);
  const run = useEffectEvent(load);
  const runKey = `${attempt}\u0000${key}`;

  useEffect(() => {
    const ac = new AbortController();
    run(ac.signal).then(
      (data) => {
        if (!ac.signal.aborted) setSettled({ key: runKey, status: 'success', data });
      },
      (error: unknown) => {
        if (ac.signal.aborted) return;
        reportUnexpected(error);
        setSettled({ key: runKey, status: 'error', error });
      },
    );
    return () => ac.abort();
  }, [runKey]);

  const reload = useCallback(() => setAttempt((n) => n + 1), []);
  if (settled?.key !== runKey) return { status: 'loading', reload };
  return settled.status === 'success'
    ? { status: 'success', data: settled.data, reload }
    : { status: 'error', error: settled.error, reload };
}
