# The two commands the README promises: `make serve` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CHROMIUM := /usr/bin/chromium
CADDY := /usr/bin/caddy
CLANG := /usr/bin/clang
# What ruff checks and formats (junjo/otlp_proto's generated modules are excluded in pyproject).
PY_PATHS := junjo tests scripts proto

.PHONY: serve test fuzz lint format bench proto dist clean

$(BIN)/junjo: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# A venv made before the distribution was renamed junjo-server still has "junjo" in it,
	# the same package and commands under the SDK's name: gone, so one distribution owns them.
	if $(BIN)/pip show --quiet junjo 2>/dev/null; then $(BIN)/pip uninstall --quiet --yes junjo; fi
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/junjo

serve: $(BIN)/junjo
	$(BIN)/junjo serve

test: lint $(CHROMIUM) $(CADDY) $(CLANG)
	$(BIN)/pytest

# The native walker's fuzzer for 10 minutes (tests/fuzz: 30 seconds of it run in `make test`),
# its corpus kept in .cache/fuzz-corpus so each run starts where the last one stopped.
fuzz: $(BIN)/junjo $(CLANG)
	FUZZ_SECONDS=$${FUZZ_SECONDS:-600} FUZZ_CORPUS=$(CURDIR)/.cache/fuzz-corpus \
		$(BIN)/pytest -s tests/fuzz

# Debian's chromium, which the browser tests (tests/web/) launch through Playwright; its own
# browser download is never used. Installed once, with sudo when not root.
$(CHROMIUM):
	$(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get update -q
	$(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends chromium

# Debian's caddy, for tests/tls/test_caddy.py: the README's reverse-proxy config, run as
# written (skipped where it is missing).
$(CADDY):
	$(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get update -q
	$(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends caddy

# Debian's clang with libFuzzer and the ASan/UBSan runtimes (a package of their own, which
# clang does not pull in), for tests/fuzz/: the native walker fuzzed on every test run.
$(CLANG):
	$(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get update -q
	$(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends clang libclang-rt-14-dev

# Checks only, as CI does; `make format` fixes. mypy is strict on junjo/ (pyproject.toml).
lint: $(BIN)/junjo
	$(BIN)/ruff check $(PY_PATHS)
	$(BIN)/ruff format --check $(PY_PATHS)
	$(BIN)/mypy

format: $(BIN)/junjo
	$(BIN)/ruff check --fix $(PY_PATHS)
	$(BIN)/ruff format $(PY_PATHS)

# A quick pass of the main benchmarks (about 5 minutes): the scripts work and the figures are in
# the right range. The figures the docs quote come from their full runs (see README.md).
bench: $(BIN)/junjo
	$(BIN)/python scripts/bench_ingest.py --runs 1 --duration 5
	$(BIN)/python scripts/bench_query.py --spans 100000 --runs 5
	$(BIN)/python scripts/bench_indexer.py --runs 1 --pipeline-spans 50000 --pipeline-runs 1
	$(BIN)/python scripts/bench_web.py --runs 3

# junjo/otlp_proto/ from the .proto files in proto/ (see proto/README.md).
proto: $(BIN)/junjo
	$(BIN)/python proto/generate.py

# The sdist, the wheel (with the web UI's files) and the single-file zipapp for this Python
# and platform: dist/junjo-server-<version>-<python tag>-<platform>.pyz (README.md, "Install").
dist: $(BIN)/junjo
	rm -rf dist build
	$(BIN)/python -m build --sdist --wheel --outdir dist .
	$(BIN)/python scripts/build_zipapp.py dist/junjo_server-*.whl --outdir dist

clean:
	rm -rf $(VENV) .pytest_cache build dist *.egg-info
