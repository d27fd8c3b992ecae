# Two commands matter: `make run` (the app on embedded SQLite with demo data) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# `make run` installs what the app needs; the test tools (pytest, hypothesis, ruff,
# Playwright: the `dev` extra) come with the first target that needs them.
APP_STAMP := $(VENV)/.installed-app
DEV_STAMP := $(VENV)/.installed-dev
PORT ?= 8501
HOST ?= 127.0.0.1

.PHONY: run test test-fast bench lint venv clean

$(APP_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(APP_STAMP)

# The dev install includes the app's, so it stamps both.
$(DEV_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(APP_STAMP) $(DEV_STAMP)

venv: $(DEV_STAMP)

run: $(APP_STAMP)
	@$(BIN)/isv run --host $(HOST) --port $(PORT)

test: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

test-fast: $(DEV_STAMP)
	$(BIN)/python -m pytest tests/unit tests/integration -x -q

bench: $(DEV_STAMP)
	$(BIN)/python -m bench

lint: $(DEV_STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) var .pytest_cache
