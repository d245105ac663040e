import { render } from '@testing-library/react';
import type { ReactNode } from 'react';
import { useLocation } from '../router';
import { SessionProvider, useSession } from '../session';

/** Probe shows the current path and user, for tests to assert navigation and login. */
function Probe() {
  const { session } = useSession();
  const { pathname } = useLocation();
  return (
    <>
      <p data-testid="path">{pathname}</p>
      <p data-testid="whoami">{session ? `user ${session.userId}` : 'anonymous'}</p>
    </>
  );
}

/** renderWithSession renders ui inside a SessionProvider, next to a Probe. */
export function renderWithSession(ui: ReactNode) {
  return render(
    <SessionProvider>
      {ui}
      <Probe />
    </SessionProvider>,
  );
}
