from mercato.testing import LOCAL_POSTGRES, port_open


def test_healthz_answers_without_touching_servers(make_test_app):
    app = make_test_app()
    assert app.get("/healthz").json == {"status": "ok"}


def test_readyz_is_ready_when_postgres_and_redis_answer(make_test_app):
    response = make_test_app().get("/readyz")
    assert response.json == {"status": "ready", "checks": {"postgresql": "ok", "redis": "ok"}}


def test_readyz_flips_to_503_when_postgres_goes_down(make_test_app, tcp_proxy, migrated_database):
    from sqlalchemy.engine import make_url

    url = make_url(migrated_database)
    target = (url.host or LOCAL_POSTGRES[0], url.port or 5432)
    assert port_open(*target), "needs PostgreSQL over TCP for the proxy"
    proxy = tcp_proxy(target)
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    app = make_test_app(**{"sqlalchemy.url": proxied, "sqlalchemy.connect_timeout": "2"})
    assert app.get("/readyz").status_int == 200

    proxy.stop()

    response = app.get("/readyz", status=503)
    assert response.json["checks"] == {"postgresql": "unreachable", "redis": "ok"}
    assert response.json["status"] == "unavailable"


def test_readyz_flips_to_503_when_redis_goes_down(make_test_app, tcp_proxy, redis_url):
    from urllib.parse import urlparse

    parsed = urlparse(redis_url)
    assert parsed.scheme == "redis", "needs Redis over TCP for the proxy"
    proxy = tcp_proxy((parsed.hostname, parsed.port))
    app = make_test_app(
        **{"redis.url": f"redis://127.0.0.1:{proxy.port}{parsed.path}", "redis.socket_timeout": "1"}
    )
    assert app.get("/readyz").status_int == 200

    proxy.stop()

    response = app.get("/readyz", status=503)
    assert response.json["checks"] == {"postgresql": "ok", "redis": "unreachable"}


def test_readyz_stays_ready_when_postgresql_drops_the_pools_connections(
    make_test_app, tcp_proxy, migrated_database
):
    from sqlalchemy.engine import make_url

    url = make_url(migrated_database)
    proxy = tcp_proxy((url.host or LOCAL_POSTGRES[0], url.port or 5432))
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    app = make_test_app(**{"sqlalchemy.url": proxied})
    assert app.get("/readyz").status_int == 200

    proxy.cut()  # a restart: the pooled connection is dead, new ones work

    assert app.get("/readyz").json["checks"]["postgresql"] == "ok"


def _app_behind_redis_proxy(make_test_app, tcp_proxy, redis_url, timeout="1"):
    from urllib.parse import urlparse

    parsed = urlparse(redis_url)
    assert parsed.scheme == "redis", "needs Redis over TCP for the proxy"
    proxy = tcp_proxy((parsed.hostname, parsed.port))
    app = make_test_app(
        **{
            "redis.url": f"redis://127.0.0.1:{proxy.port}{parsed.path}",
            "redis.socket_timeout": timeout,
        }
    )
    return app, proxy


def _timed(call, *args, within, **kwargs):
    import time

    started = time.monotonic()
    response = call(*args, **kwargs)
    elapsed = time.monotonic() - started
    assert elapsed < within, f"{args[0]} took {elapsed:.2f}s"
    return response


def test_healthz_stays_200_with_a_session_cookie_when_redis_is_down(
    make_test_app, tcp_proxy, redis_url, customer_user
):
    from mercato.testing import login

    app, proxy = _app_behind_redis_proxy(make_test_app, tcp_proxy, redis_url)
    login(app, customer_user.email)  # the browser now sends a session cookie

    proxy.stop()

    assert _timed(app.get, "/healthz", within=0.5).json == {"status": "ok"}
    ready = _timed(app.get, "/readyz", status=503, within=2)
    assert ready.json["checks"]["redis"] == "unreachable"


def test_a_frozen_redis_costs_one_socket_timeout_then_answers_at_once(
    make_test_app, tcp_proxy, redis_url, customer_user
):
    from mercato.testing import login

    app, proxy = _app_behind_redis_proxy(make_test_app, tcp_proxy, redis_url)
    login(app, customer_user.email)

    proxy.freeze()

    assert _timed(app.get, "/healthz", within=0.5).status_int == 200
    assert _timed(app.get, "/readyz", status=503, within=2).json["status"] == "unavailable"
    # Redis failed a moment ago: the next requests do not wait for it again.
    page = _timed(app.get, "/account", status=503, within=0.5)
    assert "Temporarily unavailable" in page.text
    assert page.headers["X-Request-Id"] in page.text
    api = _timed(app.get, "/api/account", status=503, within=0.5)
    assert api.json["error"]["status"] == 503
