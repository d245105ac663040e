# Frontend targets, included by the top-level Makefile. Recipes are POSIX sh
# and run from the repository root ($(CURDIR)); npm runs inside frontend/.

FRONTEND_DIR := $(CURDIR)/frontend
NPM ?= npm

.PHONY: frontend frontend-deps frontend-build test-frontend test-e2e

# node_modules is (re)installed when it is missing or older than the lockfile.
$(FRONTEND_DIR)/node_modules/.package-lock.json: $(FRONTEND_DIR)/package-lock.json $(FRONTEND_DIR)/package.json
	cd $(FRONTEND_DIR) && $(NPM) ci --no-audit --no-fund
	touch $@

frontend-deps: $(FRONTEND_DIR)/node_modules/.package-lock.json

frontend-build: frontend-deps
	cd $(FRONTEND_DIR) && $(NPM) run build

# `make run` builds the UI through this name.
frontend: frontend-build

# Lint, typecheck, unit tests, then the production build and its size budget.
test-frontend: frontend-deps
	cd $(FRONTEND_DIR) && $(NPM) run lint
	cd $(FRONTEND_DIR) && $(NPM) run typecheck
	cd $(FRONTEND_DIR) && $(NPM) test
	cd $(FRONTEND_DIR) && $(NPM) run build
	cd $(FRONTEND_DIR) && $(NPM) run size

# The real Go app serving the built frontend, driven by headless Chromium
# (/usr/bin/chromium or CHROMIUM_PATH; skipped without it unless CI=true).
# UPDATE_SCREENSHOT=1 also refreshes docs/screenshot.png.
test-e2e: frontend-build
	cd $(FRONTEND_DIR) && $(NPM) run e2e
