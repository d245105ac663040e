import type { Post } from '../api';
import { useSession } from '../session';

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function formatDate(rfc3339: string): string {
  const t = Date.parse(rfc3339);
  return Number.isNaN(t) ? rfc3339 : dateFormat.format(t);
}

/** PostMeta shows who wrote a post and when. */
export function PostMeta({ post }: { post: Post }) {
  const { session } = useSession();
  const mine = session?.userId === post.author_id;
  const edited = post.updated_at && post.updated_at !== post.created_at;
  return (
    <p className="meta">
      by {mine ? 'you' : `user #${post.author_id}`} · <time dateTime={post.created_at}>{formatDate(post.created_at)}</time>
      {edited && ' · edited'}
    </p>
  );
}
