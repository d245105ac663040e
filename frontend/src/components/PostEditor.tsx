import { useState, type FormEvent } from 'react';
import { ApiError, createPost, getPost, updatePost, type Post } from '../api';
import { Link, navigate } from '../router';
import { useSession, type Session } from '../session';
import { useAsync } from '../useAsync';
import { ErrorMessage } from './ErrorMessage';
import { Field } from './Field';
import { Loading } from './Loading';

// The limits the API enforces (it answers 422 beyond them).
export const TITLE_MAX = 200;
export const BODY_MAX = 10000;

/** NewPost is the editor for a new post; it asks anonymous visitors to log in. */
export function NewPost() {
  const { session } = useSession();
  if (!session) return <LoginRequired what="write a post" />;
  return <PostForm session={session} />;
}

/** EditPost loads a post and lets its author, and only its author, edit it. */
export function EditPost({ id }: { id: number }) {
  const { session } = useSession();
  const state = useAsync(`post/${id}`, (signal) => getPost(id, signal));

  if (!session) return <LoginRequired what="edit your posts" />;
  if (state.status === 'loading') return <Loading label="Loading the post…" />;
  if (state.status === 'error') return <ErrorMessage error={state.error} onRetry={state.reload} />;
  if (state.data.author_id !== session.userId) {
    return (
      <div role="alert" className="alert alert-error">
        <p>You can only edit your own posts.</p>
        <Link to={`/posts/${id}`}>Back to the post</Link>
      </div>
    );
  }
  return <PostForm session={session} post={state.data} />;
}

function LoginRequired({ what }: { what: string }) {
  return (
    <p className="empty">
      <Link to="/login" state={{ from: window.location.pathname }}>
        Log in
      </Link>{' '}
      to {what}.
    </p>
  );
}

function PostForm({ session, post }: { session: Session; post?: Post }) {
  const [title, setTitle] = useState(post?.title ?? '');
  const [body, setBody] = useState(post?.body ?? '');
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const fields = error instanceof ApiError ? error.fields : {};

  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    setSaving(true);
    setError(null);
    const input = { title: title.trim(), body };
    try {
      const saved = post ? await updatePost(session.token, post.id, input) : await createPost(session.token, input);
      navigate(`/posts/${saved.id}`, { replace: Boolean(post) });
    } catch (err) {
      setSaving(false);
      setError(err);
    }
  };

  return (
    <form className="form" onSubmit={(e) => void submit(e)} aria-labelledby="editor-heading">
      <h1 id="editor-heading">{post ? 'Edit post' : 'New post'}</h1>
      {error !== null && (
        <ErrorMessage
          error={error}
          message={
            error instanceof ApiError && error.status === 401
              ? 'Your session has expired: log in again, then save.'
              : Object.keys(fields).length > 0
                ? 'Please correct the fields below.'
                : undefined
          }
        />
      )}
      <Field label="Title" error={fields.title} hint={`${title.length}/${TITLE_MAX}`}>
        {(props) => (
          <input {...props} value={title} onChange={(e) => setTitle(e.target.value)} required maxLength={TITLE_MAX} autoFocus />
        )}
      </Field>
      <Field label="Body" error={fields.body} hint={`${body.length}/${BODY_MAX}`}>
        {(props) => (
          <textarea {...props} value={body} onChange={(e) => setBody(e.target.value)} required maxLength={BODY_MAX} rows={12} />
        )}
      </Field>
      <div className="actions">
        <button type="submit" disabled={saving}>
          {saving ? 'Saving…' : post ? 'Save changes' : 'Publish'}
        </button>
        <Link className="button button-secondary" to={post ? `/posts/${post.id}` : '/'}>
          Cancel
        </Link>
      </div>
    </form>
  );
}
