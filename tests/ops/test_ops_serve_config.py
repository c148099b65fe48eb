"""Serve settings: where they come from, what is refused, and 1,000 shoppers at once."""

import resource
import socket

import psutil
import pytest

from mercato.exceptions import ConfigurationError
from mercato.ops.serving import bind, cpu_count, options_from_config
from tests.ops.conftest import ROOT, get, production_waitress_settings

PRODUCTION = str(ROOT / "config" / "production.ini")


@pytest.fixture
def mercato_plugins():
    return []


def test_production_ini_is_ready_for_a_crowd_behind_nginx():
    options = options_from_config(PRODUCTION, {})
    assert (options.host, options.port) == ("127.0.0.1", 6543)
    assert options.workers == cpu_count()
    adj = options.adjustments
    assert int(adj["connection_limit"]) >= 1200
    assert int(adj["threads"]) <= 10 + 10, "no more threads than pooled DB connections"
    assert adj["trusted_proxy"] == "127.0.0.1"
    assert set(adj["trusted_proxy_headers"].split()) >= {"x-forwarded-for", "x-forwarded-proto"}
    assert adj["asyncore_use_poll"] == "true"


def test_the_command_line_wins_over_the_ini_file(tmp_path):
    ini = tmp_path / "shop.ini"
    ini.write_text("[server:main]\nuse = egg:waitress#main\nlisten = 0.0.0.0:8000\nthreads = 3\n")
    options = options_from_config(str(ini), {"mercato.serve.workers": "3"})
    assert (options.host, options.port, options.workers) == ("0.0.0.0", 8000, 3)
    assert options.adjustments == {"threads": "3"}
    options = options_from_config(
        str(ini), {"mercato.serve.workers": "3"}, host="127.0.0.1", port=0, workers=1, threads=9
    )
    assert (options.host, options.port, options.workers) == ("127.0.0.1", 0, 1)
    assert options.adjustments["threads"] == 9


def test_a_misspelled_waitress_setting_is_refused_with_its_name(tmp_path):
    ini = tmp_path / "shop.ini"
    ini.write_text("[server:main]\nuse = egg:waitress#main\nconection_limit = 1200\n")
    with pytest.raises(ConfigurationError, match="conection_limit"):
        options_from_config(str(ini), {})


def test_a_port_in_use_is_one_clear_line():
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(ConfigurationError, match=f"cannot listen on 127.0.0.1:{port}"):
            bind("127.0.0.1", port, 16)


def test_a_thousand_open_connections_do_not_lock_out_the_next_shopper(serve):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, 4096), hard), hard))
    server = serve(workers=1, server=production_waitress_settings())
    [worker] = server.worker_pids()
    crowd = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(1100)]
    try:
        # waitress's default connection_limit (100) would stop accepting here, and this
        # request would wait in the listen queue until it timed out.
        assert get(server.url + "/healthz", timeout=15)[0] == 200
        established = [
            c
            for c in psutil.Process(worker).net_connections(kind="tcp")
            if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == server.port
        ]
        assert len(established) >= 1100, "the worker accepted every one of them"
    finally:
        for sock in crowd:
            sock.close()
