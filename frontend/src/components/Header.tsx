import { navigate, Link } from '../router';
import { useSession } from '../session';

export function Header() {
  const { session, logOut } = useSession();
  return (
    <header className="site-header">
      <Link to="/" className="brand">
        Blog
      </Link>
      <nav aria-label="Main">
        {session ? (
          <>
            <Link to="/posts/new" className="button">
              New post
            </Link>
            <span className="muted" title={`user #${session.userId}`}>
              {session.email}
            </span>
            <button
              type="button"
              className="button-secondary"
              onClick={() => {
                logOut();
                navigate('/');
              }}
            >
              Log out
            </button>
          </>
        ) : (
          <>
            <Link to="/login">Log in</Link>
            <Link to="/register" className="button">
              Register
            </Link>
          </>
        )}
      </nav>
    </header>
  );
}
