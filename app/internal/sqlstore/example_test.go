package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"example.com/otelstarter/app/internal/blog"
	"example.com/otelstarter/app/internal/sqlstore"
)

func ExampleOpen() {
	ctx := context.Background()
	// In the server the URL comes from DATABASE_URL.
	store, err := sqlstore.Open(ctx, "sqlite::memory:")
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	u, err := store.CreateUser(ctx, " Ada@Example.com ", "hash")
	if err != nil {
		log.Fatal(err)
	}
	_, err = store.CreateUser(ctx, "ADA@example.com", "hash")
	fmt.Println(u.Email, blog.ErrorCode(err))

	_, err = store.Post(ctx, 42)
	var e *blog.Error
	if errors.As(err, &e) {
		fmt.Println(e.Code, e.Message)
	}
	// Output:
	// ada@example.com email_taken
	// not_found post not found
}
