package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"math"

	"example.com/otelstarter/app/internal/blog"
)

const postColumns = `id, title, body, author_id, created_at, updated_at`

// scanPost scans the postColumns of one row.
func scanPost(row interface{ Scan(...any) error }) (blog.Post, error) {
	var p blog.Post
	err := row.Scan(&p.ID, &p.Title, &p.Body, &p.AuthorID,
		timeScanner{&p.CreatedAt}, timeScanner{&p.UpdatedAt})
	return p, err
}

// CreatePost stores a new post by p.AuthorID and returns it with its ID.
// CreatedAt, and UpdatedAt with it, default to now when p.CreatedAt is zero;
// p.ID and p.UpdatedAt are ignored. An unknown author gives
// [blog.CodeNotFound].
func (s *Store) CreatePost(ctx context.Context, p blog.Post) (blog.Post, error) {
	if p.CreatedAt.IsZero() {
		p.CreatedAt = now()
	}
	p.CreatedAt = dbTime(p.CreatedAt)
	p.UpdatedAt = p.CreatedAt
	err := s.db.QueryRowContext(ctx,
		`INSERT INTO posts (title, body, author_id, created_at, updated_at)
		 VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		p.Title, p.Body, p.AuthorID, p.CreatedAt, p.UpdatedAt,
	).Scan(&p.ID)
	if isForeignKeyViolation(err) {
		return blog.Post{}, errUserNotFound()
	}
	if err != nil {
		return blog.Post{}, wrap("create post", err)
	}
	return p, nil
}

// Post returns the post with id or [blog.CodeNotFound].
func (s *Store) Post(ctx context.Context, id int64) (blog.Post, error) {
	var p blog.Post
	err := retryRead(ctx, func() (err error) {
		p, err = scanPost(s.db.QueryRowContext(ctx,
			`SELECT `+postColumns+` FROM posts WHERE id = $1`, id))
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return blog.Post{}, errPostNotFound()
	}
	if err != nil {
		return blog.Post{}, wrap("post", err)
	}
	return p, nil
}

// ListPosts returns page of the posts, newest first (ties broken by the
// higher ID), and the number of all posts. A page past the end has no posts
// and the right Total. Page and PerPage below 1 give [blog.CodeInvalid].
//
// The page and the total are read by two statements, so a post written in
// between can be counted but not listed, or the reverse; a paginated listing
// tolerates that, and one statement would have to read every post.
func (s *Store) ListPosts(ctx context.Context, page blog.Page) (blog.PostList, error) {
	if page.Page < 1 || page.PerPage < 1 {
		return blog.PostList{}, blog.Errorf(blog.CodeInvalid, "page and per_page must be at least 1")
	}
	if page.Page-1 > math.MaxInt32/page.PerPage {
		return blog.PostList{}, blog.Errorf(blog.CodeInvalid, "page is too large")
	}
	var list blog.PostList
	err := retryRead(ctx, func() (err error) {
		list, err = s.listPosts(ctx, page)
		return err
	})
	return list, err
}

func (s *Store) listPosts(ctx context.Context, page blog.Page) (blog.PostList, error) {
	list := blog.PostList{Posts: []blog.Post{}, Page: page.Page, PerPage: page.PerPage}
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM posts`).Scan(&list.Total); err != nil {
		return blog.PostList{}, wrap("count posts", err)
	}
	if list.Total <= page.Offset() {
		return list, nil
	}

	rows, err := s.db.QueryContext(ctx,
		`SELECT `+postColumns+` FROM posts ORDER BY created_at DESC, id DESC LIMIT $1 OFFSET $2`,
		page.PerPage, page.Offset())
	if err != nil {
		return blog.PostList{}, wrap("list posts", err)
	}
	defer rows.Close()
	for rows.Next() {
		p, err := scanPost(rows)
		if err != nil {
			return blog.PostList{}, wrap("list posts", err)
		}
		list.Posts = append(list.Posts, p)
	}
	if err := rows.Err(); err != nil {
		return blog.PostList{}, wrap("list posts", err)
	}
	return list, nil
}

// UpdatePost sets the title and body of post p.ID, if p.AuthorID wrote it,
// and returns the post as stored. Another author gives [blog.CodeForbidden]
// and a missing post [blog.CodeNotFound].
func (s *Store) UpdatePost(ctx context.Context, p blog.Post) (blog.Post, error) {
	// The author check is in the WHERE clause so that the check and the
	// change are one statement; only a miss costs a second look.
	updated, err := scanPost(s.db.QueryRowContext(ctx,
		`UPDATE posts SET title = $1, body = $2, updated_at = $3
		 WHERE id = $4 AND author_id = $5
		 RETURNING `+postColumns,
		p.Title, p.Body, now(), p.ID, p.AuthorID))
	if errors.Is(err, sql.ErrNoRows) {
		return blog.Post{}, s.whyNotAuthor(ctx, p.ID)
	}
	if err != nil {
		return blog.Post{}, wrap("update post", err)
	}
	return updated, nil
}

// DeletePost deletes post id if authorID wrote it, with the errors of
// [Store.UpdatePost].
func (s *Store) DeletePost(ctx context.Context, id, authorID int64) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM posts WHERE id = $1 AND author_id = $2`, id, authorID)
	if err != nil {
		return wrap("delete post", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap("delete post", err)
	}
	if n == 0 {
		return s.whyNotAuthor(ctx, id)
	}
	return nil
}

// whyNotAuthor tells, after a change by author matched no row, whether post
// id is missing or by someone else.
func (s *Store) whyNotAuthor(ctx context.Context, id int64) error {
	var one int
	err := s.db.QueryRowContext(ctx, `SELECT 1 FROM posts WHERE id = $1`, id).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return errPostNotFound()
	case err != nil:
		return wrap("check post author", err)
	}
	return errForbidden()
}
