# paddock — common tasks. `make test` is the README's test command.
.PHONY: run build test test-sqlite test-postgres compat browser bench bench-quick bench-fleet bench-fleet-quick bench-watch bench-console lint fmt fuzz fuzz-quick

# PostgreSQL that test-postgres creates its throwaway databases in (started
# by scripts/ensure-postgres when it is not running)
PADDOCK_TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/postgres
export PADDOCK_TEST_POSTGRES_URL

run:
	cargo run --release -- serve

build:
	cargo build --release

# The whole suite on the embedded SQLite, then the integration tests on PostgreSQL.
test: test-sqlite test-postgres

# The suite records every call and its servers' debug-level log
# (PADDOCK_TEST_HYGIENE_DIR); then no secret may be found in either
# (tests/integration/hygiene.rs).
test-sqlite:
	rm -rf target/hygiene
	PADDOCK_TEST_HYGIENE_DIR=$(CURDIR)/target/hygiene cargo test
	PADDOCK_TEST_HYGIENE_DIR=$(CURDIR)/target/hygiene cargo test --test integration -- --ignored secrets_never_leak --nocapture

test-postgres:
	scripts/ensure-postgres
	PADDOCK_TEST_DATABASE=postgres cargo test --test integration -- --skip compat_descriptors

# Compatibility with the official SDK (gitpod-sdk 1.2.0 from PyPI), never skipped: our
# descriptors against the SDK's, buf curl with its defaults (Connect, reflection over a
# bidi stream; the buf CLI from npm, scripts/ensure-buf), then every implemented RPC
# through the SDK's generated clients over Connect (proto and JSON), gRPC and gRPC-Web
# against a real paddock.
compat:
	PADDOCK_REQUIRE_COMPAT=1 cargo test --test integration compat_descriptors
	PADDOCK_REQUIRE_COMPAT=1 cargo test --test integration buf_curl
	cargo build
	cd tests/python && "$$(../../scripts/sdk-venv)/bin/python" -m pytest -q

# A page on another origin calls paddock from headless Chromium through
# @connectrpc/connect-web (Connect and gRPC-Web); installs what it needs.
browser:
	cargo build
	tests/browser/run.sh

# paddock against its transport and storage ceilings on SQLite and PostgreSQL
# (benches/perf/main.rs): the table, results.json and chart.svg land in
# docs/performance/. bench-quick: smaller fleets, fewer and shorter windows.
bench:
	scripts/ensure-h2load
	scripts/ensure-postgres
	cargo bench --bench perf -- --out docs/performance

bench-quick:
	scripts/ensure-h2load
	scripts/ensure-postgres
	cargo bench --bench perf -- --quick --out target/bench-quick

# 100,000 runners renewing their leases (3,333 MarkRunnerActive/s) against
# one paddock on SQLite and two replicas on PostgreSQL, and the liveness
# sweep's cost per tick (benches/fleet/main.rs): docs/performance/fleet.md.
bench-fleet:
	scripts/ensure-postgres
	cargo bench --bench fleet -- --out docs/performance

bench-fleet-quick:
	scripts/ensure-postgres
	cargo bench --bench fleet -- --quick

# 1,000 idle WatchEvents streams (CPU, RSS), then delivery latency of changes
# to all of them, SQLite and two replicas on PostgreSQL: docs/performance/watch.md.
bench-watch:
	scripts/ensure-postgres
	cargo bench --bench watch -- --out docs/performance

# The console's fleet page at 100,000 runners in headless Chromium (benches/console/main.rs,
# tests/browser/console-bench.mjs): page weight, API answer, answer to screen;
# docs/performance/console.md. Installs Chromium and the npm packages when missing.
bench-console:
	cd tests/browser && ([ -f node_modules/.package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error)
	[ -x /usr/bin/chromium ] || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)
	cargo bench --bench console -- --out docs/performance

# libFuzzer on the stable toolchain (scripts/fuzz, docs/fuzzing.md): every
# target from its seeds; a crash fails with the input kept in tests/fuzz/artifacts/.
# fuzz-quick: 25 s per target, for CI; fuzz: the documented 5-minute run.
fuzz-quick:
	scripts/fuzz build
	scripts/fuzz run 25

fuzz:
	scripts/fuzz build
	scripts/fuzz run 300

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings

fmt:
	cargo fmt
