import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { useState } from 'react';
import { beforeEach, describe, expect, it, vi } from 'vitest';
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

describe('AppErrorBoundary', () => {
  beforeEach(() => {
    explode = true;
    // React reports caught render errors on the console; keep the output clean.
    vi.spyOn(console, 'error').mockImplementation(() => {});
  });

  // Sentry is not initialised here (no DSN), as in a deployment without one:
  // the boundary must still catch the error and show an event ID.
  it('shows the error and the Sentry event ID', () => {
    render(
      <AppErrorBoundary>
        <Fragile />
      </AppErrorBoundary>,
    );

    const alert = screen.getByRole('alert');
    expect(alert).toHaveTextContent('Something went wrong');
    expect(alert).toHaveTextContent('kaboom in render');
    expect(alert.querySelector('code')?.textContent).toMatch(/^[0-9a-f]{32}$/);
    expect(alert).toHaveTextContent(/Event ID: [0-9a-f]{32}/);
  });

  it('renders the app again on "Try again"', async () => {
    const user = userEvent.setup();
    render(
      <AppErrorBoundary>
        <Fragile />
      </AppErrorBoundary>,
    );
    expect(screen.queryByRole('button', { name: /rendered fine/i })).toBeNull();

    explode = false;
    await user.click(screen.getByRole('button', { name: 'Try again' }));

    expect(screen.queryByRole('alert')).toBeNull();
    expect(screen.getByRole('button', { name: 'Rendered fine (0)' })).toBeInTheDocument();
  });
});
