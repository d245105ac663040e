package jobs_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"example.com/otelstarter/app/internal/blog"
	"example.com/otelstarter/app/internal/jobs"
	"example.com/otelstarter/app/internal/sqlstore"
	"example.com/otelstarter/internal/testenv"
)

// BenchmarkRegistration is the cost of the welcome email's job on a
// registration: the store's CreateUser alone (plain), and with the job
// inserted in its transaction (with_job), on each database. bcrypt, which
// dwarfs both, is left out. Side by side in one run: see bench/RESULTS.md.
func BenchmarkRegistration(b *testing.B) {
	for _, db := range []string{"sqlite", "postgres"} {
		for _, withJob := range []bool{false, true} {
			name := db + "/plain"
			if withJob {
				name = db + "/with_job"
			}
			b.Run(name, func(b *testing.B) {
				url := "sqlite:" + b.TempDir() + "/blog.db"
				if db == "postgres" {
					url = testenv.PostgresURL(b)
				}
				ctx := context.Background()
				store, err := sqlstore.Open(ctx, url)
				if err != nil {
					b.Fatal(err)
				}
				defer store.Close()
				if withJob {
					q, err := jobs.Open(ctx, jobs.Config{DatabaseURL: url, DB: store.DB(), Migrate: store.WithMigrationLock, Users: store})
					if err != nil {
						b.Fatal(err)
					}
					defer q.Close()
					store.OnCreateUser(func(ctx context.Context, tx *sql.Tx, u blog.User) error {
						return q.EnqueueWelcomeTx(ctx, tx, u.ID)
					})
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					i++
					if _, err := store.CreateUser(ctx, fmt.Sprintf("bench.%d@example.com", i), "hash"); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
