"""Mercato's benchmarks and load tests: ``python -m bench`` (see bench/README.md).

The package builds a shop of 100,000 products and 10,000 customers on the local
PostgreSQL and Redis, serves it with ``mercato serve`` in production settings, and runs
each scenario against floors measured in the same run. ``cart.py`` and
``serve_workers.py`` are stand-alone scripts of their own.
"""
