import { useEffect, type ReactElement } from 'react';
import { LoginForm, RegisterForm } from './components/AuthForm';
import { Header } from './components/Header';
import { LiveFeed } from './components/LiveFeed';
import { EditPost, NewPost } from './components/PostEditor';
import { PostList } from './components/PostList';
import { PostView } from './components/PostView';
import { TriggerError } from './components/TriggerError';
import { Link, matchPath, useLocation } from './router';
import { nameRoute } from './sentry';
import { SessionProvider } from './session';

function postId(params: Record<string, string> | null): number | null {
  if (!params?.id || !/^[1-9]\d{0,15}$/.test(params.id)) return null;
  return Number(params.id);
}

/** route returns the route pattern of a path and the page to render there. */
export function route(pathname: string): { pattern: string; page: ReactElement } {
  if (pathname === '/') return { pattern: '/', page: <PostList /> };
  if (pathname === '/login') return { pattern: '/login', page: <LoginForm /> };
  if (pathname === '/register') return { pattern: '/register', page: <RegisterForm /> };
  if (pathname === '/posts/new') return { pattern: '/posts/new', page: <NewPost /> };

  const editId = postId(matchPath('/posts/:id/edit', pathname));
  if (editId !== null) return { pattern: '/posts/:id/edit', page: <EditPost key={editId} id={editId} /> };
  const viewId = postId(matchPath('/posts/:id', pathname));
  if (viewId !== null) return { pattern: '/posts/:id', page: <PostView key={viewId} id={viewId} /> };

  return {
    pattern: '<not found>',
    page: (
      <div className="empty">
        <h1>Page not found</h1>
        <p>
          <Link to="/">Go to the posts</Link>
        </p>
      </div>
    ),
  };
}

function Page() {
  const { pathname } = useLocation();
  const { pattern, page } = route(pathname);
  useEffect(() => nameRoute(pattern), [pattern, pathname]);
  return page;
}

export function App() {
  return (
    <SessionProvider>
      <Header />
      <div className="layout">
        <main>
          <Page />
        </main>
        <aside>
          <LiveFeed />
          <TriggerError />
        </aside>
      </div>
    </SessionProvider>
  );
}
