"""deploy/nginx/mercato.conf in front of two Mercato servers, over HTTPS, on loopback.

nginx (Debian's nginx-light, installed by .ci/run) runs the site file as shipped, with
only its machine-specific values replaced: ports, certificate (self-signed, made with
openssl), folders, and one more upstream server. The app servers run
config/production.ini's waitress settings, so its proxy trust is what is tested.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from mercato.testing import free_port
from tests.ops.conftest import ROOT, production_waitress_settings

SITE = ROOT / "deploy" / "nginx" / "mercato.conf"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082"
)


@pytest.fixture
def mercato_plugins():
    return []


def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found is None:
        pytest.fail("nginx is not installed: apt-get install -y nginx-light (.ci/run does it)")
    return found


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def render_site(folder: Path, upstreams: list[int], http_port: int, https_port: int) -> str:
    cert, key = self_signed_certificate(folder)
    replacements = {
        "server 127.0.0.1:6543;": "\n    ".join(f"server 127.0.0.1:{p};" for p in upstreams),
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen [::]:80;": "",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
        "listen [::]:443 ssl http2;": "",
        "/etc/letsencrypt/live/shop.example.com/fullchain.pem": str(cert),
        "/etc/letsencrypt/live/shop.example.com/privkey.pem": str(key),
        "/var/log/nginx/": f"{folder}/logs/",
        "/srv/mercato/static/": f"{folder}/static/",
        "/srv/mercato/uploads/": f"{folder}/uploads/",
        "/var/www/letsencrypt": f"{folder}/acme",
    }
    site = SITE.read_text()
    for old, new in replacements.items():
        assert old in site, f"deploy/nginx/mercato.conf no longer has {old!r}: update this test"
        site = site.replace(old, new)
    return site


@pytest.fixture
def nginx_front(tmp_path, serve):
    """Two Mercato servers behind nginx; yields (https base URL, certificate, servers)."""
    binary = nginx_binary()
    settings = "mercato.require_https = true\nmercato.cookie_secure = true\n"
    waitress = production_waitress_settings()
    servers = [serve(workers=1, app=settings, server=waitress, name=name) for name in ("a", "b")]
    for sub in ("logs", "acme", "uploads/products/1/abc", "temp"):
        (tmp_path / sub).mkdir(parents=True)
    (tmp_path / "uploads/products/1/abc/small.png").write_bytes(PNG)
    (tmp_path / "uploads/products/1/abc/notes.txt").write_text("not for the public")
    collect = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "collect_static.py"), "-c",
         str(tmp_path / "a.ini"), str(tmp_path / "static")],
        cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": os.environ["PATH"]},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert collect.returncode == 0, collect.stderr

    http_port, https_port = free_port(), free_port()
    (tmp_path / "site.conf").write_text(
        render_site(tmp_path, [s.port for s in servers], http_port, https_port)
    )
    temp = tmp_path / "temp"
    (tmp_path / "nginx.conf").write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"worker_processes 1;\npid {tmp_path}/nginx.pid;\n"
        "events { worker_connections 256; }\n"
        "http {\n  include /etc/nginx/mime.types;\n  default_type application/octet-stream;\n"
        + "".join(f"  {kind}_temp_path {temp}/{kind};\n" for kind in
                  ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        + f"  include {tmp_path}/site.conf;\n}}\n"
    )  # fmt: skip
    command = [binary, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"),
               "-e", str(tmp_path / "logs" / "error.log")]  # fmt: skip
    check = subprocess.run([*command, "-t"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    nginx = subprocess.Popen([*command, "-g", "daemon off;"], stderr=subprocess.PIPE, text=True)
    base = f"https://127.0.0.1:{https_port}"
    cert = str(tmp_path / "cert.pem")
    try:
        servers[0].wait_until(
            lambda: _answers(base + "/healthz", cert), 30, "nginx to answer over HTTPS"
        )
        yield base, cert, servers, http_port
    finally:
        nginx.terminate()
        nginx.wait(timeout=30)


def _answers(url: str, cert: str) -> bool:
    try:
        return requests.get(url, verify=cert, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def test_storefront_page_over_https_with_hsts_and_a_request_id(nginx_front):
    base, cert, _servers, _ = nginx_front
    response = requests.get(base + "/", verify=cert, timeout=10)
    assert response.status_code == 200
    assert "powered by Mercato" in response.text
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    rid = response.headers["X-Request-Id"]
    assert len(rid) == 32 and int(rid, 16) >= 0, "nginx's $request_id, echoed by the app"


def test_static_and_uploaded_files_come_from_nginx_with_long_cache_headers(nginx_front):
    base, cert, servers, _ = nginx_front
    css = requests.get(
        base + "/static/mercato/mercato.css", verify=cert, timeout=10,
        headers={"Accept-Encoding": "gzip"},
    )  # fmt: skip
    assert css.status_code == 200
    assert css.text == (ROOT / "kernel" / "static" / "mercato.css").read_text()
    assert css.headers["Content-Encoding"] == "gzip"
    assert css.headers["Cache-Control"] == "max-age=604800"
    assert css.headers["Content-Type"] == "text/css"

    image = requests.get(base + "/media/catalog/products/1/abc/small.png", verify=cert, timeout=10)
    assert image.status_code == 200 and image.content == PNG
    assert image.headers["Cache-Control"] == "max-age=315360000"
    other = requests.get(base + "/media/catalog/products/1/abc/notes.txt", verify=cert, timeout=10)
    assert other.status_code == 404 and "not for the public" not in other.text

    for server in servers:
        assert "/static/mercato/mercato.css" not in server.log(), "nginx served it, not Python"
        assert "small.png" not in server.log()


def test_a_post_with_its_csrf_token_works_through_nginx(nginx_front):
    base, cert, _servers, _ = nginx_front
    shopper = requests.Session()
    token = shopper.get(base + "/api/session/csrf", verify=cert, timeout=10).json()["csrf_token"]
    cookie = next(c for c in shopper.cookies if c.name == "mercato_session")
    assert cookie.secure, "the session cookie is HTTPS-only behind TLS"
    # As a browser does: over HTTPS Pyramid also checks that the POST comes from our origin.
    response = shopper.post(
        base + "/probe/echo",
        data={"name": "Ada"},
        headers={"X-CSRF-Token": token, "Origin": base},
        verify=cert,
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json() == {"name": "Ada", "scheme": "https"}, "X-Forwarded-Proto is trusted"
    refused = shopper.post(
        base + "/probe/echo",
        data={"name": "Eve"},
        headers={"Origin": base},
        verify=cert,
        timeout=10,
    )
    assert refused.status_code == 400


def test_both_app_servers_take_requests_and_http_redirects_to_https(nginx_front):
    base, cert, servers, http_port = nginx_front
    pids = {requests.get(base + "/probe/pid", verify=cert, timeout=10).text for _ in range(6)}
    workers = {str(pid) for server in servers for pid in server.worker_pids()}
    assert pids == workers, "round robin over both upstream servers"

    plain = requests.get(
        f"http://127.0.0.1:{http_port}/p/socks?colour=red", allow_redirects=False, timeout=10
    )
    assert plain.status_code == 301
    assert plain.headers["Location"] == "https://127.0.0.1/p/socks?colour=red"
