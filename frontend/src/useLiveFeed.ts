import { useEffect, useState } from 'react';
import { parseFeedMessage, type Post } from './api';

export type FeedStatus = 'connecting' | 'live' | 'reconnecting';

export interface LiveFeedState {
  status: FeedStatus;
  /** Newest first, at most `limit`. */
  posts: Post[];
}

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000 };

/**
 * reconnectDelay is exponential backoff with "equal jitter": between half and
 * all of min(max, initial·2^attempt), so that clients dropped together by a
 * restart do not all come back at the same instant.
 */
export function reconnectDelay(attempt: number, { initialMs, maxMs }: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** attempt);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * useLiveFeed keeps a WebSocket open to url, collecting the posts it
 * announces, and reconnects with backoff whenever the connection closes.
 */
export function useLiveFeed(url: string, limit = 10, backoff: BackoffOptions = DEFAULT_BACKOFF): LiveFeedState {
  const [state, setState] = useState<LiveFeedState>({ status: 'connecting', posts: [] });
  const { initialMs, maxMs } = backoff;

  useEffect(() => {
    let socket: WebSocket | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let attempt = 0;
    let stopped = false;

    const retry = () => {
      socket = null;
      setState((s) => ({ ...s, status: 'reconnecting' }));
      timer = setTimeout(connect, reconnectDelay(attempt++, { initialMs, maxMs }));
    };

    const connect = () => {
      let ws: WebSocket;
      try {
        ws = new WebSocket(url);
      } catch (err) {
        // A URL the browser refuses (say, ws: from an https: page): keep retrying, but say why.
        console.warn('live feed: cannot open', url, err);
        retry();
        return;
      }
      socket = ws;
      ws.onopen = () => {
        attempt = 0;
        setState((s) => ({ ...s, status: 'live' }));
      };
      ws.onmessage = (ev: MessageEvent) => {
        const msg = parseFeedMessage(ev.data);
        if (!msg) return;
        setState((s) => ({
          ...s,
          posts: [msg.post, ...s.posts.filter((p) => p.id !== msg.post.id)].slice(0, limit),
        }));
      };
      // An error is always followed by close; reconnecting is handled there.
      ws.onclose = () => {
        if (!stopped) retry();
      };
    };

    connect();
    return () => {
      stopped = true;
      clearTimeout(timer);
      socket?.close(1000, 'page closed');
    };
  }, [url, limit, initialMs, maxMs]);

  return state;
}
