import { act, render, screen, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SessionProvider } from '../session';
import { makePost } from '../test/fixtures';
import { reconnectDelay } from '../useLiveFeed';
import { LiveFeed } from './LiveFeed';

/** FakeWebSocket stands in for the browser's WebSocket; tests drive it by hand. */
class FakeWebSocket {
  static instances: FakeWebSocket[] = [];
  onopen: ((ev: Event) => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;
  closedByClient = false;

  constructor(readonly url: string) {
    FakeWebSocket.instances.push(this);
  }

  close() {
    this.closedByClient = true;
  }

  // Server side:
  open() {
    act(() => this.onopen?.(new Event('open')));
  }
  send(data: unknown) {
    act(() => this.onmessage?.(new MessageEvent('message', { data })));
  }
  drop() {
    act(() => this.onclose?.(new CloseEvent('close', { code: 1006 })));
  }
}

function latest(): FakeWebSocket {
  const ws = FakeWebSocket.instances.at(-1);
  if (!ws) throw new Error('no WebSocket was opened');
  return ws;
}

function renderFeed() {
  return render(
    <SessionProvider>
      <LiveFeed url="ws://blog.test/api/ws" />
    </SessionProvider>,
  );
}

const created = (id: number, title: string) => JSON.stringify({ type: 'post.created', post: makePost(id, { title }) });

describe('LiveFeed', () => {
  beforeEach(() => {
    FakeWebSocket.instances = [];
    vi.stubGlobal('WebSocket', FakeWebSocket);
  });

  it('connects to the feed and shows new posts, newest first', () => {
    renderFeed();
    expect(latest().url).toBe('ws://blog.test/api/ws');
    expect(screen.getByText('connecting…')).toBeInTheDocument();

    latest().open();
    expect(screen.getByText('live')).toBeInTheDocument();
    expect(screen.getByText(/appear here/)).toBeInTheDocument();

    latest().send(created(1, 'First post'));
    latest().send(created(2, 'Second post'));

    const items = within(screen.getByRole('region', { name: /live feed/i })).getAllByRole('link');
    expect(items.map((a) => a.textContent)).toEqual(['Second post', 'First post']);
    expect(items[0]).toHaveAttribute('href', '/posts/2');
  });

  it('ignores messages it does not understand and duplicates', () => {
    renderFeed();
    latest().open();
    latest().send('not json');
    latest().send(JSON.stringify({ type: 'post.deleted', post: makePost(3) }));
    latest().send(created(4, 'Once'));
    latest().send(created(4, 'Once'));

    expect(screen.getAllByRole('link').map((a) => a.textContent)).toEqual(['Once']);
  });

  it('keeps at most 10 posts', () => {
    renderFeed();
    latest().open();
    for (let i = 1; i <= 12; i++) latest().send(created(i, `Post ${i}`));
    const links = screen.getAllByRole('link');
    expect(links).toHaveLength(10);
    expect(links[0]).toHaveTextContent('Post 12');
    expect(links[9]).toHaveTextContent('Post 3');
  });

  describe('when the connection drops', () => {
    afterEach(() => vi.useRealTimers());

    it('reconnects with growing delays, and resets them once connected', () => {
      vi.useFakeTimers();
      vi.spyOn(Math, 'random').mockReturnValue(1); // the longest delay of each step
      renderFeed();
      latest().open();
      latest().send(created(1, 'Kept across reconnects'));

      latest().drop();
      expect(screen.getByText('reconnecting…')).toBeInTheDocument();
      expect(FakeWebSocket.instances).toHaveLength(1);
      act(() => {
        vi.advanceTimersByTime(499);
      });
      expect(FakeWebSocket.instances).toHaveLength(1);
      act(() => {
        vi.advanceTimersByTime(1);
      });
      expect(FakeWebSocket.instances).toHaveLength(2);

      latest().drop(); // the retry failed too: wait twice as long
      act(() => {
        vi.advanceTimersByTime(999);
      });
      expect(FakeWebSocket.instances).toHaveLength(2);
      act(() => {
        vi.advanceTimersByTime(1);
      });
      expect(FakeWebSocket.instances).toHaveLength(3);

      latest().open();
      expect(screen.getByText('live')).toBeInTheDocument();
      expect(screen.getByText('Kept across reconnects')).toBeInTheDocument();

      latest().drop(); // after a success, back to the shortest delay
      act(() => {
        vi.advanceTimersByTime(500);
      });
      expect(FakeWebSocket.instances).toHaveLength(4);
    });

    it('keeps retrying when the browser refuses to open the socket', () => {
      vi.useFakeTimers();
      vi.spyOn(console, 'warn').mockImplementation(() => {});
      let refusals = 1;
      vi.stubGlobal(
        'WebSocket',
        class extends FakeWebSocket {
          constructor(url: string) {
            if (refusals-- > 0) throw new DOMException('refused', 'SecurityError');
            super(url);
          }
        },
      );
      renderFeed();
      expect(screen.getByText('reconnecting…')).toBeInTheDocument();
      expect(FakeWebSocket.instances).toHaveLength(0);

      act(() => {
        vi.advanceTimersByTime(500);
      });
      expect(FakeWebSocket.instances).toHaveLength(1);
      latest().open();
      expect(screen.getByText('live')).toBeInTheDocument();
    });

    it('stops reconnecting and closes the socket on unmount', () => {
      vi.useFakeTimers();
      const { unmount } = renderFeed();
      const ws = latest();
      ws.open();
      unmount();
      expect(ws.closedByClient).toBe(true);

      ws.onclose?.(new CloseEvent('close'));
      vi.advanceTimersByTime(60_000);
      expect(FakeWebSocket.instances).toHaveLength(1);
    });
  });
});

describe('reconnectDelay', () => {
  it('doubles up to the maximum, with jitter between half and all of it', () => {
    const b = { initialMs: 500, maxMs: 30_000 };
    expect(reconnectDelay(0, b, () => 1)).toBe(500);
    expect(reconnectDelay(0, b, () => 0)).toBe(250);
    expect(reconnectDelay(3, b, () => 1)).toBe(4000);
    expect(reconnectDelay(20, b, () => 1)).toBe(30_000);
    expect(reconnectDelay(20, b, () => 0)).toBe(15_000);
  });
});
