# The two commands the README promises: `make serve` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: serve test lint format bench proto clean

$(BIN)/junjo: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/junjo

serve: $(BIN)/junjo
	$(BIN)/junjo serve

test: $(BIN)/junjo
	$(BIN)/ruff check junjo tests scripts
	$(BIN)/ruff format --check junjo tests scripts
	$(BIN)/pytest

lint: $(BIN)/junjo
	$(BIN)/ruff check --fix junjo tests scripts
	$(BIN)/ruff format junjo tests scripts

# junjo/otlp_proto/ from the .proto files in proto/ (see proto/README.md).
proto: $(BIN)/junjo
	$(BIN)/python proto/generate.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
