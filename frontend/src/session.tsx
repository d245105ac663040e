// The logged-in session: kept in memory and in sessionStorage (so it survives
// a reload but not the closing of the tab, and is never shared across tabs
// the way localStorage would be).
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { setSentryUser } from './sentry';

export interface Session {
  token: string;
  userId: number;
  email: string;
  /** RFC 3339. */
  expiresAt: string;
}

const STORAGE_KEY = 'blog.session';
// setTimeout fires at once for delays above 2^31-1 ms.
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

// An unreadable expiry is treated as "unknown": the API answers 401 once the
// token is no longer valid, and the app logs out then.
function msUntilExpiry(s: Session): number {
  const t = Date.parse(s.expiresAt);
  return Number.isNaN(t) ? Infinity : t - Date.now();
}

function readStored(): Session | null {
  try {
    const raw = window.sessionStorage.getItem(STORAGE_KEY);
    if (!raw) return null;
    const s = JSON.parse(raw) as Partial<Session>;
    if (typeof s.token !== 'string' || typeof s.userId !== 'number' || typeof s.email !== 'string' || typeof s.expiresAt !== 'string') {
      return null;
    }
    const session: Session = { token: s.token, userId: s.userId, email: s.email, expiresAt: s.expiresAt };
    return msUntilExpiry(session) > 0 ? session : null;
  } catch {
    return null; // Storage disabled or corrupt: start logged out.
  }
}

function writeStored(s: Session | null): void {
  try {
    if (s) window.sessionStorage.setItem(STORAGE_KEY, JSON.stringify(s));
    else window.sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // Storage disabled: the session lives in memory only.
  }
}

interface SessionContextValue {
  session: Session | null;
  logIn: (s: Session) => void;
  logOut: () => void;
}

const SessionContext = createContext<SessionContextValue | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<Session | null>(readStored);

  const logIn = useCallback((s: Session) => {
    writeStored(s);
    setSession(s);
  }, []);
  const logOut = useCallback(() => {
    writeStored(null);
    setSession(null);
  }, []);

  useEffect(() => {
    setSentryUser(session ? session.userId : null);
    if (!session) return;
    const ms = msUntilExpiry(session);
    if (ms > MAX_TIMEOUT_MS) return;
    const timer = setTimeout(logOut, Math.max(ms, 0));
    return () => clearTimeout(timer);
  }, [session, logOut]);

  const value = useMemo(() => ({ session, logIn, logOut }), [session, logIn, logOut]);
  return <SessionContext value={value}>{children}</SessionContext>;
}

export function useSession(): SessionContextValue {
  const ctx = useContext(SessionContext);
  if (!ctx) throw new Error('useSession must be used inside <SessionProvider>');
  return ctx;
}
