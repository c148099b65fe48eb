"""Sessions: id rotation on login and privilege change, fixation, guest data kept at login,
cookie flags, idle and absolute timeouts."""

import time

from mercato.accounts.models import User
from mercato.testing import csrf_token, login
from tests.accounts import probe

PROBE = ["tests.accounts.probe"]
FAST = {"mercato.accounts.bcrypt_rounds": "4"}


def whoami(app):
    return app.get("/probe/session").json


def test_login_rotates_the_session_id_and_the_old_id_is_worthless(
    app, make_test_app, customer_user
):
    csrf_token(app)
    guest_id = app.cookies["mercato_session"]

    login(app, customer_user.email)

    assert app.cookies["mercato_session"] != guest_id
    assert whoami(app)["user"] == customer_user.email
    replay = make_test_app(plugins=PROBE, **FAST)
    replay.set_cookie("mercato_session", guest_id)
    assert whoami(replay)["user"] is None


def test_a_session_id_planted_before_login_does_not_log_the_attacker_in(
    make_test_app, customer_user
):
    attacker = make_test_app(plugins=PROBE, **FAST)
    victim = make_test_app(plugins=PROBE, **FAST)
    csrf_token(attacker)
    planted = attacker.cookies["mercato_session"]
    victim.set_cookie("mercato_session", planted)

    login(victim, customer_user.email)

    assert whoami(victim)["user"] == customer_user.email
    assert whoami(attacker)["user"] is None


def test_the_guest_session_data_survives_login_and_the_login_hook_sees_it(app, customer_user):
    app.post("/probe/session", {"cart": "guest-cart-42", "csrf_token": csrf_token(app)})

    login(app, customer_user.email)

    assert whoami(app) == {"cart": "guest-cart-42", "user": customer_user.email}
    [seen] = probe.LOGINS
    assert seen["user_id"] == customer_user.id
    assert seen["session"]["cart"] == "guest-cart-42"


def test_the_cookie_is_httponly_and_samesite_and_secure_only_over_https(app, make_test_app):
    plain = app.get("/api/session/csrf").headers["Set-Cookie"].lower()
    assert "httponly" in plain
    assert "samesite=lax" in plain
    assert "secure" not in plain

    over_https = make_test_app(plugins=PROBE, **FAST)
    cookie = over_https.get("/api/session/csrf", extra_environ={"wsgi.url_scheme": "https"})
    assert "; secure" in cookie.headers["Set-Cookie"].lower()


def test_a_role_change_ends_the_users_sessions(app, customer_user, dbsession):
    login(app, customer_user.email)
    user = dbsession.get(User, customer_user.id)
    user.role = "staff"
    dbsession.commit()

    assert whoami(app)["user"] is None
    app.get("/probe/back-office", status=303)


def test_a_deactivated_user_is_logged_out_at_the_next_request(app, customer_user, dbsession):
    login(app, customer_user.email)
    dbsession.get(User, customer_user.id).is_active = False
    dbsession.commit()

    assert whoami(app)["user"] is None


def test_an_idle_session_times_out(make_test_app, customer_user):
    app = make_test_app(plugins=PROBE, **FAST, **{"mercato.session.idle_timeout": "1"})
    login(app, customer_user.email)

    time.sleep(2.1)

    assert whoami(app)["user"] is None


def test_a_busy_session_still_ends_at_its_absolute_lifetime(make_test_app, customer_user):
    app = make_test_app(plugins=PROBE, **FAST, **{"mercato.session.max_age": "2"})
    login(app, customer_user.email)

    time.sleep(1.0)
    assert whoami(app)["user"] == customer_user.email  # in use, within its lifetime
    # pyramid_session_redis rounds the creation time up to the next second.
    time.sleep(2.1)

    assert whoami(app)["user"] is None


def test_logging_in_as_someone_else_does_not_inherit_their_session(app, customer_user, make_user):
    other = make_user("other@example.com")
    login(app, customer_user.email)
    app.post("/probe/session", {"cart": "carlas-cart", "csrf_token": csrf_token(app)})

    login(app, other.email)

    assert whoami(app) == {"cart": None, "user": other.email}


def test_using_a_session_pushes_its_ttl_back_without_writing_it(app, redis_client):
    """A page view reads the session (GETEX refreshes its idle timeout); it writes the
    payload back only when the data changed, never just because time passed."""
    csrf_token(app)
    (key,) = redis_client.keys("*")
    stored = redis_client.get(key)
    redis_client.expire(key, 100)

    time.sleep(1.1)
    whoami(app)

    assert redis_client.get(key) == stored
    assert redis_client.ttl(key) > 100  # back to the idle timeout (7 days)
