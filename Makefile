# Wayside: `make demo` runs the demo site, `make test` runs every check. Both build .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/test

.PHONY: demo test lint typecheck unit pytest-sqlite pytest-postgres bench browser clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Debian's Chromium drives the browser tests (Playwright never downloads a browser of its own);
# fonts-noto-cjk draws the Chinese of screenshots and gate posters.
browser:
	@test -x /usr/bin/chromium -a -e /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc \
		|| (apt-get update -qq && apt-get install -y -qq chromium fonts-noto-cjk)

demo: $(STAMP)
	$(VENV)/bin/wayside demo

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(STAMP)
	$(PY) -m mypy

# The whole suite on SQLite, then the database tests again on PostgreSQL in their own process
# (Tortoise caches generated SQL per connection name, so one backend per process).
pytest-sqlite: $(STAMP) browser
	$(PY) -m pytest -q

pytest-postgres: $(STAMP)
	WAYSIDE_TEST_DATABASE_URL=$(PG_TEST_URL) $(PY) -m pytest -q -m db

test: lint typecheck pytest-sqlite pytest-postgres

bench: $(STAMP)
	$(PY) -m tests.bench $(ARGS)

clean:
	rm -rf $(VENV) var build *.egg-info
