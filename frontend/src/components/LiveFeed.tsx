import { feedUrl } from '../api';
import { Link } from '../router';
import { useLiveFeed, type FeedStatus } from '../useLiveFeed';
import { formatDate } from './PostMeta';

const STATUS_TEXT: Record<FeedStatus, string> = {
  connecting: 'connecting…',
  live: 'live',
  reconnecting: 'reconnecting…',
};

/** LiveFeed lists the posts published since the page opened, as the server announces them. */
export function LiveFeed({ url = feedUrl() }: { url?: string }) {
  const { status, posts } = useLiveFeed(url);
  return (
    <section className="panel live-feed" aria-labelledby="live-heading">
      <h2 id="live-heading">
        Live feed <span className={`badge badge-${status}`}>{STATUS_TEXT[status]}</span>
      </h2>
      <div aria-live="polite">
        {posts.length === 0 ? (
          <p className="muted">New posts appear here as they are published.</p>
        ) : (
          <ul>
          {posts.map((p) => (
            <li key={p.id}>
              <Link to={`/posts/${p.id}`}>{p.title}</Link>
              <br />
              <small className="muted">
                <time dateTime={p.created_at}>{formatDate(p.created_at)}</time>
              </small>
            </li>
          ))}
          </ul>
        )}
      </div>
    </section>
  );
}
