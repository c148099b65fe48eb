"""The floors: bare Pyramid apps on the same waitress, settings and process count as the
shop, doing the least a page of each kind must do.

* ``hello``: a view that returns a short text (the cost of Pyramid + waitress);
* ``select``: one primary-key SELECT on ``catalog_products`` (SQLAlchemy Core, psycopg 3,
  the shop's pool settings) rendered through a Jinja2 template (pyramid_jinja2);
* ``redis``: one Redis command (HINCRBY on the key in the path), answered as JSON.

A worker is started as ``python -m bench.floors KIND FD JSON`` on a listening socket
its parent bound (as ``mercato serve`` does), so N workers share one port.
"""

import json
import logging
import random
import socket
import sys

from pyramid.config import Configurator
from pyramid.response import Response

KINDS = ("hello", "select", "redis")


def hello_view(request):
    return Response("Hello, world")


def make_app(kind: str, settings: dict):
    with Configurator(settings={"pyramid.reload_templates": False}) as config:
        if kind == "hello":
            config.add_route("hello", "/")
            config.add_view(hello_view, route_name="hello")
        elif kind == "select":
            _select_floor(config, settings)
        else:
            _redis_floor(config, settings)
        return config.make_wsgi_app()


def _select_floor(config, settings: dict) -> None:
    from sqlalchemy import text

    from mercato.db import make_engine

    engine = make_engine(settings)
    with engine.connect() as conn:
        top = conn.execute(text("SELECT max(id) FROM catalog_products")).scalar()
    query = text(
        "SELECT id, slug, name, description, price_from FROM catalog_products WHERE id = :id"
    )

    def product(request):
        with engine.connect() as conn:
            row = conn.execute(query, {"id": random.randint(1, top)}).one()  # noqa: S311
        return {"product": row}

    config.include("pyramid_jinja2")
    config.add_jinja2_search_path("bench:templates", name=".jinja2")
    config.add_route("product", "/")
    config.add_view(product, route_name="product", renderer="floor_product.jinja2")


def _redis_floor(config, settings: dict) -> None:
    from mercato.redis_client import make_redis

    client = make_redis(settings)

    def increment(request):
        key = request.matchdict["key"][:40]
        return Response(json_body={"n": client.hincrby(f"floor:{{{key}}}", "n", 1)})

    config.add_route("incr", "/{key}")
    config.add_view(increment, route_name="incr", request_method="POST")


def worker(kind: str, fd: int, spec: dict) -> None:
    from waitress import create_server

    from mercato.settings import resolve_settings

    logging.basicConfig(level=logging.ERROR)
    settings = resolve_settings(spec["settings"], environ={})
    app = make_app(kind, settings)
    server = create_server(app, sockets=[socket.socket(fileno=fd)], **spec["adjustments"])
    server.run()


if __name__ == "__main__":
    worker(sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]))
