import react from '@vitejs/plugin-react';
import { loadEnv } from 'vite';
import { defineConfig } from 'vitest/config';

// https://vite.dev/config/
export default defineConfig(({ mode }) => {
  // '' loads every variable, not only VITE_*: the proxy target is read by
  // this config (Node), never by the browser bundle.
  const env = loadEnv(mode, process.cwd(), '');
  const apiTarget = env.VITE_API_PROXY || 'http://localhost:8080';

  return {
    plugins: [react()],
    // Sentry's documented tree-shaking flags: drop the SDK's debug logging
    // (https://docs.sentry.io/platforms/javascript/guides/react/configuration/tree-shaking/).
    define: {
      __SENTRY_DEBUG__: false,
    },
    server: {
      proxy: {
        // ws: true also forwards the WebSocket upgrade of /api/ws.
        '/api': { target: apiTarget, ws: true },
      },
    },
    preview: {
      proxy: {
        '/api': { target: apiTarget, ws: true },
      },
    },
    build: {
      // scripts/size.mjs reads dist/.vite/manifest.json to find the initial chunks.
      manifest: true,
      target: 'es2022',
    },
    test: {
      environment: 'jsdom',
      include: ['src/**/*.test.{ts,tsx}'],
      setupFiles: ['src/test/setup.ts'],
      restoreMocks: true,
      unstubGlobals: true,
    },
  };
});
