-- Users, login sessions and posts; the same schema as migrations/postgres.
-- STRICT tables reject a value of the wrong type instead of storing it.
-- Times are INTEGER microseconds since the Unix epoch, UTC (the driver's
-- _time_integer_format=unix_micro): they sort as numbers and keep
-- PostgreSQL's precision.

-- +goose Up
CREATE TABLE users (
    -- AUTOINCREMENT: an ID is never reused, so a cache keyed by ID cannot
    -- serve a deleted row for a new one.
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Trimmed and lower-cased by the application, so UNIQUE ignores case.
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE sessions (
    -- SHA-256 of the bearer token: a leaked file does not leak sessions.
    token_hash BLOB NOT NULL PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
-- DeleteExpiredSessions.
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
-- The cascade from users.
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

CREATE TABLE posts (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    author_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
-- ListPosts: newest first, ties broken by the higher id.
CREATE INDEX posts_created_at_id_idx ON posts (created_at DESC, id DESC);
-- The cascade from users.
CREATE INDEX posts_author_id_idx ON posts (author_id);

-- +goose Down
-- Children first: each drop takes its table's indexes with it.
DROP TABLE posts;
DROP TABLE sessions;
DROP TABLE users;
