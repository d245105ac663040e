# Frontend targets, included by the top-level Makefile. Recipes are POSIX sh
# and run from the repository root ($(CURDIR)); npm runs inside frontend/.

FRONTEND_DIR := $(CURDIR)/frontend
NPM ?= npm

.PHONY: frontend frontend-deps frontend-build test-frontend test-e2e

# node_modules is (re)installed when it is missing or older than the lockfile.
$(FRONTEND_DIR)/node_modules/.package-lock.json: $(FRONTEND_DIR)/package-lock.json $(FRONTEND_DIR)/package.json
	cd $(FRONTEND_DIR) && $(NPM) ci --no-audit --no-fund
	touch $@

frontend-deps: $(FRONTEND_DIR)/node_modules/.package-lock.json ## install the frontend's npm packages (when the lockfile changed)

frontend-build: frontend-deps ## build the UI into frontend/dist
	cd $(FRONTEND_DIR) && $(NPM) run build

# `make run` builds the UI through this name.
frontend: frontend-build ## build the UI (what make run serves at /)

# Lint, typecheck, unit tests, then the production build and its size budget.
test-frontend: frontend-deps ## frontend lint, typecheck, unit tests, build and size budget
	cd $(FRONTEND_DIR) && $(NPM) run lint
	cd $(FRONTEND_DIR) && $(NPM) run typecheck
	cd $(FRONTEND_DIR) && $(NPM) test
	cd $(FRONTEND_DIR) && $(NPM) run build
	cd $(FRONTEND_DIR) && $(NPM) run size

# The real Go app serving the built frontend, driven by headless Chromium
# (/usr/bin/chromium or CHROMIUM_PATH; skipped without it unless CI=true).
# UPDATE_SCREENSHOT=1 also refreshes docs/screenshot.png.
test-e2e: frontend-build ## the UI in headless Chromium against the real app (CI=true: Chromium required)
	cd $(FRONTEND_DIR) && $(NPM) run e2e
