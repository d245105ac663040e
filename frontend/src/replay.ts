// Session Replay is large, so it lives in its own chunk, loaded after first
// paint by scheduleReplayLoad in sentry.ts. Do not import this module statically.
import { addIntegration, replayIntegration } from '@sentry/react';

export function installReplay(): void {
  addIntegration(replayIntegration({ maskAllText: true, blockAllMedia: true }));
}
