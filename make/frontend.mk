# Frontend targets, included by the top-level Makefile. Recipes are POSIX sh
# and run from the repository root ($(CURDIR)); npm runs inside frontend/.

FRONTEND_DIR := $(CURDIR)/frontend
NPM ?= npm

.PHONY: frontend frontend-deps frontend-build test-frontend test-frontend-build test-e2e

# node_modules is (re)installed when it is missing or older than the lockfile.
$(FRONTEND_DIR)/node_modules/.package-lock.json: $(FRONTEND_DIR)/package-lock.json $(FRONTEND_DIR)/package.json
	cd $(FRONTEND_DIR) && $(NPM) ci --no-audit --no-fund
	touch $@

##@ run
frontend-deps: $(FRONTEND_DIR)/node_modules/.package-lock.json ## install the frontend's npm packages (when the lockfile changed)

frontend-build: frontend-deps ## build the UI into frontend/dist
	cd $(FRONTEND_DIR) && $(NPM) run build

# `make run` builds the UI through this name.
frontend: frontend-build ## build the UI (what make run serves at /)

##@ test
# The everyday part (make test): lint, typecheck and unit tests. The
# production build and its size budget run in make test-slow, before the
# browser test that serves the same build.
test-frontend: frontend-deps ## frontend lint, typecheck and unit tests
	cd $(FRONTEND_DIR) && $(NPM) run lint
	cd $(FRONTEND_DIR) && $(NPM) run typecheck
	cd $(FRONTEND_DIR) && $(NPM) test

test-frontend-build: frontend-build ## the frontend's production build and its size budget
	cd $(FRONTEND_DIR) && $(NPM) run size

# The real Go app serving the built frontend, driven by headless Chromium
# (/usr/bin/chromium or CHROMIUM_PATH; skipped without it unless CI=true).
# UPDATE_SCREENSHOT=1 also refreshes docs/screenshot.png.
test-e2e: frontend-build ## the UI in headless Chromium against the real app (CI=true: Chromium required)
	cd $(FRONTEND_DIR) && $(NPM) run e2e
