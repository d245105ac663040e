-- Users, login sessions and posts. Times are timestamptz, kept in UTC by the
-- application and truncated to microseconds (PostgreSQL's precision).

-- +goose Up
CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Trimmed and lower-cased by the application, so UNIQUE ignores case.
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE sessions (
    -- SHA-256 of the bearer token: a leaked table does not leak sessions.
    token_hash BYTEA PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
-- DeleteExpiredSessions.
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
-- The cascade from users.
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

CREATE TABLE posts (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    author_id  BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
-- ListPosts: newest first, ties broken by the higher id.
CREATE INDEX posts_created_at_id_idx ON posts (created_at DESC, id DESC);
-- The cascade from users.
CREATE INDEX posts_author_id_idx ON posts (author_id);

-- +goose Down
-- Children first: each drop takes its table's indexes with it.
DROP TABLE posts;
DROP TABLE sessions;
DROP TABLE users;
