import { LoginForm, RegisterForm } from './components/AuthForm';
import { Header } from './components/Header';
import { LiveFeed } from './components/LiveFeed';
import { EditPost, NewPost } from './components/PostEditor';
import { PostList } from './components/PostList';
import { PostView } from './components/PostView';
import { TriggerError } from './components/TriggerError';
import { Link, matchPath, useLocation } from './router';
import { SessionProvider } from './session';

function postId(params: Record<string, string> | null): number | null {
  if (!params?.id || !/^[1-9]\d{0,15}$/.test(params.id)) return null;
  return Number(params.id);
}

function Page() {
  const { pathname } = useLocation();
  if (pathname === '/') return <PostList />;
  if (pathname === '/login') return <LoginForm />;
  if (pathname === '/register') return <RegisterForm />;
  if (pathname === '/posts/new') return <NewPost />;

  const editId = postId(matchPath('/posts/:id/edit', pathname));
  if (editId !== null) return <EditPost key={editId} id={editId} />;
  const viewId = postId(matchPath('/posts/:id', pathname));
  if (viewId !== null) return <PostView key={viewId} id={viewId} />;

  return (
    <div className="empty">
      <h1>Page not found</h1>
      <p>
        <Link to="/">Go to the posts</Link>
      </p>
    </div>
  );
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
