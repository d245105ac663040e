import * as Sentry from '@sentry/react';
import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../api';
import { REQUEST_ID, apiError, mockFetch } from '../test/http';
import { renderWithSession } from '../test/render';
import { AppErrorBoundary } from './ErrorFallback';
import { MISSING_POST_ID, TriggerError } from './TriggerError';

vi.mock('@sentry/react', async (importOriginal) => {
  const actual = await importOriginal<typeof Sentry>();
  return { ...actual, captureException: vi.fn(() => 'f00dfeedf00dfeedf00dfeedf00dfeed'), isEnabled: vi.fn(() => true) };
});

function renderDemo() {
  return renderWithSession(
    <AppErrorBoundary>
      <TriggerError />
    </AppErrorBoundary>,
  );
}

describe('TriggerError', () => {
  beforeEach(() => {
    vi.mocked(Sentry.captureException).mockClear();
    vi.mocked(Sentry.isEnabled).mockReturnValue(true);
  });

  it('fails an API call with 404 and reports it to Sentry with the request ID', async () => {
    const { calls } = mockFetch(() => apiError(404, 'not_found', 'Post not found.'));
    const user = userEvent.setup();
    renderDemo();

    await user.click(screen.getByRole('button', { name: 'Failed API call' }));

    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Post not found.');
    expect(alert).toHaveTextContent(`Request ID: ${REQUEST_ID}`);
    expect(screen.getByText(/sent to sentry as event/i)).toHaveTextContent('f00dfeedf00dfeedf00dfeedf00dfeed');
    expect(calls[0]?.url).toBe(`/api/posts/${MISSING_POST_ID}`);

    expect(Sentry.captureException).toHaveBeenCalledTimes(1);
    const [error, hint] = vi.mocked(Sentry.captureException).mock.calls[0]!;
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(404);
    expect(hint).toMatchObject({ tags: { request_id: REQUEST_ID, 'api.status': '404' } });
  });

  it('says so when Sentry is off, instead of showing an event ID that leads nowhere', async () => {
    vi.mocked(Sentry.isEnabled).mockReturnValue(false);
    mockFetch(() => apiError(404, 'not_found', 'Post not found.'));
    const user = userEvent.setup();
    renderDemo();

    await user.click(screen.getByRole('button', { name: 'Failed API call' }));

    expect(await screen.findByText(/sentry is not configured/i)).toBeInTheDocument();
    expect(screen.getByRole('alert')).toHaveTextContent(`Request ID: ${REQUEST_ID}`);
    expect(screen.queryByText(/sent to sentry as event/i)).toBeNull();
  });

  it('throws a render error that the error boundary catches, reports, and recovers from', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => {});
    const user = userEvent.setup();
    renderDemo();

    await user.click(screen.getByRole('button', { name: 'Render error' }));

    const alert = screen.getByRole('alert');
    expect(alert).toHaveTextContent(/demo render error/i);
    // The boundary reports through the SDK's internals, not the mocked export: its event ID shows it did.
    expect(alert).toHaveTextContent(/Event ID: [0-9a-f]{32}/);

    await user.click(within(alert).getByRole('button', { name: 'Try again' }));
    expect(screen.getByRole('heading', { name: 'Trigger an error' })).toBeInTheDocument();
  });
});
