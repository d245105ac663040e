import { DEFAULT_PER_PAGE, listPosts, type Post } from '../api';
import { Link, useLocation } from '../router';
import { useAsync } from '../useAsync';
import { ErrorMessage } from './ErrorMessage';
import { Loading } from './Loading';
import { Pagination, pageCount } from './Pagination';
import { PostMeta } from './PostMeta';

/** parsePage reads ?page=N, defaulting to 1 for anything that is not a positive integer. */
export function parsePage(search: URLSearchParams): number {
  const n = Number(search.get('page'));
  return Number.isInteger(n) && n >= 1 ? n : 1;
}

const hrefFor = (page: number) => (page === 1 ? '/' : `/?page=${page}`);

function excerpt(body: string, max = 180): string {
  const flat = body.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max).trimEnd()}…` : flat;
}

export function PostList() {
  const { search } = useLocation();
  const page = parsePage(search);
  const state = useAsync(`posts?page=${page}`, (signal) => listPosts(page, DEFAULT_PER_PAGE, signal));

  if (state.status === 'loading') return <Loading label="Loading posts…" />;
  if (state.status === 'error') return <ErrorMessage error={state.error} onRetry={state.reload} />;

  const { posts, total, per_page: perPage } = state.data;
  if (posts.length === 0) {
    return page === 1 ? (
      <p className="empty">
        No posts yet. <Link to="/posts/new">Write the first one.</Link>
      </p>
    ) : (
      <p className="empty">
        There is no page {page} (there {pageCount(total, perPage) === 1 ? 'is 1 page' : `are ${pageCount(total, perPage)} pages`}).{' '}
        <Link to="/">Go to the newest posts.</Link>
      </p>
    );
  }
  return (
    <section aria-labelledby="posts-heading">
      <h1 id="posts-heading">Posts</h1>
      <ul className="post-list">
        {posts.map((p: Post) => (
          <li key={p.id}>
            <h2>
              <Link to={`/posts/${p.id}`}>{p.title}</Link>
            </h2>
            <PostMeta post={p} />
            <p>{excerpt(p.body)}</p>
          </li>
        ))}
      </ul>
      <Pagination page={page} perPage={perPage} total={total} hrefFor={hrefFor} />
    </section>
  );
}
