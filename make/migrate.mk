# Database migrations: the app's (goose, app/internal/sqlstore/migrations/)
# and River's, on DATABASE_URL (default: the SQLite file `make run` uses).
# The server applies them at start as well; this is for doing it ahead of a
# deploy, or rolling back. Included by the top-level Makefile.
#   make migrate                      app migrate up
#   make migrate MIGRATE_ARGS=status  or down; see docs/migrations.md

MIGRATE_ARGS ?= up

##@ run
.PHONY: migrate
migrate: build ## apply the database migrations (goose's, then River's) to DATABASE_URL; MIGRATE_ARGS=status|down for the others
	bin/app migrate $(MIGRATE_ARGS)
