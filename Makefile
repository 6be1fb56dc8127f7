# Gatehouse: the two commands.
#
#   make run    install what is missing, build (release) and serve on http://localhost:3000
#   make test   install what is missing, run every check and suite, print "N passed, N failed, N skipped"
#
# Both are idempotent: tools already installed at the right version are
# left alone. Build output lives outside the clone (CARGO_TARGET_DIR) so
# that later runs on the same machine are warm.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

CARGO_TARGET_DIR ?= $(HOME)/.cache/gatehouse/target
export CARGO_TARGET_DIR
CARGO_LEPTOS_VERSION := 0.3.6
# cargo-leptos 0.3.6 as released splits the wasm (--split, for the console's
# lazy pages) with wasm_split_cli_support 0.2.0, whose output wasm-bindgen
# 0.2.130 cannot finish (hydration then fails on an unresolved
# `__wbindgen_externref_xform__` import). 0.2.4 fixes that; the same
# cargo-leptos release is built with it, in a directory of its own.
WASM_SPLIT_VERSION := 0.2.4
CARGO_LEPTOS_ROOT := $(HOME)/.cache/gatehouse/tools/cargo-leptos-$(CARGO_LEPTOS_VERSION)-wasm-split-$(WASM_SPLIT_VERSION)
# cargo-leptos finds tailwindcss and wasm-opt (npm's binaryen) here.
export PATH := $(CURDIR)/node_modules/.bin:$(CARGO_LEPTOS_ROOT)/bin:$(HOME)/.cargo/bin:$(PATH)

# wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly.
WASM_BINDGEN_VERSION := $(shell awk '/^name = "wasm-bindgen"$$/ {getline; gsub(/[^0-9.]/, ""); print; exit}' Cargo.lock)
GATEHOUSE_BIN := $(CARGO_TARGET_DIR)/release/gatehouse
# The book in docs/ (make docs), built with mdBook from crates.io.
MDBOOK_VERSION := 0.5.4
MDBOOK_ROOT := $(HOME)/.cache/gatehouse/tools/mdbook-$(MDBOOK_VERSION)
export MDBOOK := $(MDBOOK_ROOT)/bin/mdbook

.PHONY: help run test bench deps build serve update-screenshots docs

help:
	@echo "make run    install what is missing, build and serve on http://localhost:3000"
	@echo "make test   install what is missing and run every check and test suite"
	@echo "make bench  run the benchmarks and print their tables"
	@echo "make docs   regenerate the configuration reference and build the book into docs/book"
	@echo "make update-screenshots  re-record the visual baselines (review the diff before committing)"

run: deps build serve

test: deps
	@GATEHOUSE_BIN=$(GATEHOUSE_BIN) .ci/test-all

# --split: the console's pages become chunks of their own (app/src/pages/console/lazy.rs).
build:
	cargo leptos build --release --split

# Benchmarks: each binary prints Markdown tables (docs/src/benchmarks.md quotes them).
# The HTTP benchmark loads the release binary with wrk.
# The allocation test's table goes beside the HTTP benchmark's CPU times.
ALLOCATIONS := $(CARGO_TARGET_DIR)/allocations.tsv
bench: deps build
	@.ci/bundle-size
	GATEHOUSE_ALLOCATIONS_OUT=$(ALLOCATIONS) cargo test --locked -q -p gatehouse-server --test allocations -- --nocapture
	GATEHOUSE_BIN=$(GATEHOUSE_BIN) GATEHOUSE_ALLOCATIONS=$(ALLOCATIONS) cargo run --release --locked -p gatehouse-http-bench
	cargo bench --bench locks
	cargo bench --bench refresh
	cargo bench --bench ratelimit
	cargo bench --bench console

# The configuration reference is generated from the flags (a test checks
# that the committed page is current), then the book is built.
docs: .deps-rust
	GATEHOUSE_UPDATE_DOCS=1 cargo test --locked -q -p gatehouse-server --lib config_reference
	$(MDBOOK) build docs
	@echo "the book: $(CURDIR)/docs/book/index.html"

# A reviewed layout change: re-record end2end/tests/visual.spec.ts-snapshots.
update-screenshots: deps build
	GATEHOUSE_BIN=$(GATEHOUSE_BIN) npx playwright test --config end2end/playwright.config.ts \
	  --project=single visual.spec.ts --update-snapshots

serve:
	GATEHOUSE_SITE_ROOT=$(CURDIR)/target/site $(GATEHOUSE_BIN)

# ---------------------------------------------------------------------------
# Installation of missing tools. Each step checks first and does nothing
# when the tool is already there at the right version.

deps: .deps-debian .deps-rust .deps-npm

.PHONY: .deps-debian .deps-rust .deps-npm
.deps-debian:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v chromium >/dev/null     || missing="$$missing chromium"; \
	command -v node >/dev/null         || missing="$$missing nodejs"; \
	command -v npm >/dev/null          || missing="$$missing npm"; \
	command -v cc >/dev/null           || missing="$$missing build-essential"; \
	command -v wrk >/dev/null          || missing="$$missing wrk"; \
	command -v openssl >/dev/null      || missing="$$missing openssl"; \
	command -v curl >/dev/null         || missing="$$missing curl ca-certificates"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq $$missing; \
	fi

.deps-rust:
	@rustup target list --installed | grep -qx wasm32-unknown-unknown \
	  || rustup target add wasm32-unknown-unknown
	@if [ ! -x "$(CARGO_LEPTOS_ROOT)/bin/cargo-leptos" ]; then \
	  echo "building cargo-leptos $(CARGO_LEPTOS_VERSION) with wasm_split_cli_support $(WASM_SPLIT_VERSION) (about 20 minutes on 2 cores, once)"; \
	  set -eo pipefail; \
	  src=$$(mktemp -d); \
	  curl -sSfL https://static.crates.io/crates/cargo-leptos/cargo-leptos-$(CARGO_LEPTOS_VERSION).crate | tar xz -C "$$src"; \
	  cd "$$src/cargo-leptos-$(CARGO_LEPTOS_VERSION)"; \
	  cargo update -q -p rayon --precise 1.12.0; \
	  cargo update -q -p wasm_split_cli_support --precise $(WASM_SPLIT_VERSION); \
	  cargo install -q --path . --locked --features no_downloads --root "$(CARGO_LEPTOS_ROOT)"; \
	  rm -rf "$$src"; \
	fi
	@if [ ! -x "$(MDBOOK)" ]; then \
	  echo "installing mdbook $(MDBOOK_VERSION) (a few minutes, once)"; \
	  cargo install -q mdbook --version $(MDBOOK_VERSION) --locked --no-default-features --features search --root "$(MDBOOK_ROOT)"; \
	fi
	@if [ "$$(wasm-bindgen --version 2>/dev/null | awk '{print $$2}')" != "$(WASM_BINDGEN_VERSION)" ]; then \
	  echo "installing wasm-bindgen-cli $(WASM_BINDGEN_VERSION) (matches Cargo.lock)"; \
	  cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION) --force; \
	fi

# npm ci only when package-lock.json changed since the last install.
.deps-npm:
	@if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then \
	  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund; \
	fi
