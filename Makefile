# Two commands matter: `make run` (the app on embedded SQLite with demo data) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# `make run` installs what the app needs; the test tools (pytest, hypothesis, ruff,
# Playwright, pip-audit: the `dev` extra) come with the first target that needs them.
# Both install the exact versions of the lock files (README.md, "Dependencies"), then the
# app itself without resolving anything again. uv does the installing: it lays out the
# 116 packages of the dev lock in about 2 s where pip takes 25 (it copies in parallel and
# compiles no bytecode ahead; Python writes the caches of what is imported).
APP_STAMP := $(VENV)/.installed-app
DEV_STAMP := $(VENV)/.installed-dev
LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock
PORT ?= 8501
API_PORT ?= 8000
HOST ?= 127.0.0.1
# pytest-xdist workers for `make test`: each file runs whole in one worker (tests/README.md).
# The browser tests run after them, on workers of their own, each with its Chromium and its
# Streamlit server: alongside the others' workers they time out on two cores.
TEST_WORKERS ?= 3
E2E_WORKERS ?= 2

.PHONY: run test test-long test-fast bench lint audit venv clean

UV_VERSION := 0.13.9
UV := $(BIN)/uv

$(UV):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv==$(UV_VERSION)

$(APP_STAMP): pyproject.toml $(LOCK) | $(UV)
	$(UV) pip install --quiet --python $(BIN)/python -r $(LOCK)
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(APP_STAMP)

# The dev lock includes the app's, so it stamps both.
$(DEV_STAMP): pyproject.toml $(LOCK) $(DEV_LOCK) | $(UV)
	$(UV) pip install --quiet --python $(BIN)/python -r $(DEV_LOCK)
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(APP_STAMP) $(DEV_STAMP)

venv: $(DEV_STAMP)

run: $(APP_STAMP)
	@$(BIN)/isv run --host $(HOST) --port $(PORT) --api-port $(API_PORT)

# The tests write Python's bytecode caches (__pycache__, ignored by git) even where the
# environment sets PYTHONDONTWRITEBYTECODE: otherwise every worker, and every server or
# command a test starts, compiles the same sources again, and pytest rewrites every test
# file's asserts again in each worker (11 s of CPU per worker to collect, 6 s with them:
# from the second run in a checkout on).
test test-fast test-long: export PYTHONDONTWRITEBYTECODE =
test: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python tools/audit.py
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --ignore=tests/e2e
	$(BIN)/python -m pytest -n $(E2E_WORKERS) --dist loadfile tests/e2e

# The long variants of the two randomised proofs `make test` runs short (tests/README.md).
test-long: $(DEV_STAMP)
	ISV_INTERLEAVING_ROUNDS=1000 ISV_MODEL_EXAMPLES=30 $(BIN)/python -m pytest -p no:xdist -q \
		tests/integration/test_two_writers.py tests/integration/test_service_model.py

test-fast: $(DEV_STAMP)
	$(BIN)/python -m pytest tests/unit tests/integration -x -q

bench: $(DEV_STAMP)
	$(BIN)/python -m bench

lint: $(DEV_STAMP)
	$(BIN)/ruff check .

# pip-audit over both lock files; one "skipped" line when no advisory service answers.
audit: $(DEV_STAMP)
	$(BIN)/python tools/audit.py

clean:
	rm -rf $(VENV) var .pytest_cache
