import * as Sentry from '@sentry/react';
import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { useState } from 'react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AppErrorBoundary } from './ErrorFallback';

let explode = true;

function Fragile() {
  const [clicks, setClicks] = useState(0);
  if (explode) throw new Error('kaboom in render');
  return (
    <button type="button" onClick={() => setClicks(clicks + 1)}>
      Rendered fine ({clicks})
    </button>
  );
}

function renderBoundary() {
  return render(
    <AppErrorBoundary>
      <Fragile />
    </AppErrorBoundary>,
  );
}

describe('AppErrorBoundary', () => {
  beforeEach(() => {
    explode = true;
    // React reports caught render errors on the console; keep the output clean.
    vi.spyOn(console, 'error').mockImplementation(() => {});
  });

  describe('with Sentry on', () => {
    const sent: Sentry.ErrorEvent[] = [];

    beforeEach(() => {
      sent.length = 0;
      // The real SDK, with a transport that goes nowhere.
      Sentry.init({
        dsn: 'https://public@sentry.example/1',
        defaultIntegrations: false,
        transport: () => ({ send: () => Promise.resolve({}), flush: () => Promise.resolve(true) }),
        beforeSend: (event) => {
          sent.push(event);
          return event;
        },
      });
    });

    afterEach(async () => {
      await Sentry.close();
      Sentry.getCurrentScope().setClient(undefined);
    });

    it('reports the error and shows its event ID', () => {
      renderBoundary();

      const alert = screen.getByRole('alert');
      expect(alert).toHaveTextContent('Something went wrong');
      expect(alert).toHaveTextContent('kaboom in render');
      expect(sent).toHaveLength(1);
      expect(sent[0]?.exception?.values?.some((v) => v.value === 'kaboom in render')).toBe(true);
      expect(sent[0]?.event_id).toMatch(/^[0-9a-f]{32}$/);
      expect(alert.querySelector('code')?.textContent).toBe(sent[0]?.event_id);
    });

    it('renders the app again on "Try again"', async () => {
      const user = userEvent.setup();
      renderBoundary();
      expect(screen.queryByRole('button', { name: /rendered fine/i })).toBeNull();

      explode = false;
      await user.click(screen.getByRole('button', { name: 'Try again' }));

      expect(screen.queryByRole('alert')).toBeNull();
      expect(screen.getByRole('button', { name: 'Rendered fine (0)' })).toBeInTheDocument();
    });
  });

  // As in a deployment without a DSN: the error is still caught, but there
  // is no event ID to quote, since nothing was sent.
  it('still catches the error with Sentry off, without an event ID', () => {
    expect(Sentry.isEnabled()).toBe(false);
    renderBoundary();

    const alert = screen.getByRole('alert');
    expect(alert).toHaveTextContent('kaboom in render');
    expect(alert).not.toHaveTextContent('Event ID');
    expect(screen.getByRole('button', { name: 'Try again' })).toBeInTheDocument();
  });
});
