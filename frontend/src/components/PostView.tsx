import { useState } from 'react';
import { ApiError, deletePost, getPost } from '../api';
import { Link, navigate } from '../router';
import { useSession } from '../session';
import { useAsync } from '../useAsync';
import { ErrorMessage } from './ErrorMessage';
import { Loading } from './Loading';
import { PostMeta } from './PostMeta';

export function PostView({ id }: { id: number }) {
  const state = useAsync(`post/${id}`, (signal) => getPost(id, signal));

  if (state.status === 'loading') return <Loading label="Loading the post…" />;
  if (state.status === 'error') {
    const notFound = state.error instanceof ApiError && state.error.status === 404;
    return (
      <>
        <ErrorMessage error={state.error} onRetry={notFound ? undefined : state.reload} />
        <p>
          <Link to="/">← All posts</Link>
        </p>
      </>
    );
  }

  const post = state.data;
  return (
    <article className="post">
      <p>
        <Link to="/">← All posts</Link>
      </p>
      <h1>{post.title}</h1>
      <PostMeta post={post} />
      <div className="post-body">{post.body}</div>
      <AuthorActions postId={post.id} authorId={post.author_id} />
    </article>
  );
}

/** AuthorActions offers edit and delete, to the post's author only. */
function AuthorActions({ postId, authorId }: { postId: number; authorId: number }) {
  const { session } = useSession();
  const [confirming, setConfirming] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [error, setError] = useState<unknown>(null);

  if (!session || session.userId !== authorId) return null;

  const remove = async () => {
    setDeleting(true);
    setError(null);
    try {
      await deletePost(session.token, postId);
      navigate('/', { replace: true });
    } catch (err) {
      setError(err);
      setDeleting(false);
      setConfirming(false);
    }
  };

  return (
    <div className="actions">
      {error !== null && <ErrorMessage error={error} />}
      {confirming ? (
        <>
          <span>Delete this post for good?</span>
          <button type="button" className="button-danger" disabled={deleting} onClick={() => void remove()}>
            {deleting ? 'Deleting…' : 'Yes, delete'}
          </button>
          <button type="button" className="button-secondary" disabled={deleting} onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </>
      ) : (
        <>
          <Link className="button" to={`/posts/${postId}/edit`}>
            Edit
          </Link>
          <button type="button" className="button-danger" onClick={() => setConfirming(true)}>
            Delete
          </button>
        </>
      )}
    </div>
  );
}
