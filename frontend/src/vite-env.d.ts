/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** Build-time Sentry DSN; the runtime config at GET /api/config wins when it has one. */
  readonly VITE_SENTRY_DSN?: string;
}

interface ImportMeta {
  readonly env: ImportMetaEnv;
}
