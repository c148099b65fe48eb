"""Rate limits in Redis: 429 with Retry-After, recovery, per account without telling
whether it exists, and the same login and reset answers (and timing) for every email."""

import statistics
import time

import pytest

from mercato.testing import csrf_token, login

PROBE = ["tests.accounts.probe"]
FAST = {"mercato.accounts.bcrypt_rounds": "4"}


def attempt_login(app, email, password, **kw):
    return app.post(
        "/login", {"email": email, "password": password, "csrf_token": csrf_token(app)}, **kw
    )


def test_a_limit_answers_429_with_retry_after_then_recovers(make_test_app):
    app = make_test_app(plugins=PROBE, **FAST, **{"mercato.ratelimit.probe": "2 per 2 seconds"})
    token = csrf_token(app)
    for _ in range(2):
        app.post("/probe/limited", {"csrf_token": token}, status=200)

    refused = app.post("/probe/limited", {"csrf_token": token}, status=429)

    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 2
    assert "Too many attempts. Please try again in" in refused.text
    time.sleep(retry_after + 0.2)
    app.post("/probe/limited", {"csrf_token": token}, status=200)


def test_login_attempts_are_limited_per_address(make_test_app, customer_user):
    app = make_test_app(plugins=PROBE, **FAST, **{"mercato.ratelimit.login.ip": "3/minute"})
    for n in range(3):
        attempt_login(app, f"guess{n}@example.com", "guess", status=400)

    refused = attempt_login(app, customer_user.email, customer_user.password, status=429)

    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "Please try again in" in refused.text
    other_address = make_test_app(plugins=PROBE, **FAST)
    other_address.extra_environ["REMOTE_ADDR"] = "192.0.2.7"
    login(other_address, customer_user.email)


def test_failed_logins_lock_an_account_and_an_unknown_one_alike(make_test_app, customer_user):
    app = make_test_app(plugins=PROBE, **FAST, **{"mercato.ratelimit.login.account": "2/minute"})
    answers = {}
    for email in (customer_user.email, "nobody@example.com"):
        first = attempt_login(app, email, "wrong", status=400).status_int
        second = attempt_login(app, email, "wrong", status=400).status_int
        third = attempt_login(app, email, "wrong", status=429).status_int
        answers[email] = (first, second, third)

    assert answers[customer_user.email] == answers["nobody@example.com"] == (400, 400, 429)
    # Even the right password waits now; failures on one account do not lock another.
    attempt_login(app, customer_user.email, customer_user.password, status=429)
    attempt_login(app, "someone.else@example.com", "wrong", status=400)


def test_a_successful_login_is_not_counted_against_the_account(make_test_app, customer_user):
    app = make_test_app(plugins=PROBE, **FAST, **{"mercato.ratelimit.login.account": "1/minute"})

    for _ in range(3):
        login(app, customer_user.email)
        app.post("/logout", {"csrf_token": csrf_token(app)})


def test_password_reset_requests_are_limited_for_known_and_unknown_emails(
    make_test_app, customer_user
):
    app = make_test_app(
        plugins=PROBE, **FAST, **{"mercato.ratelimit.password_reset.account": "1/hour"}
    )
    for email in (customer_user.email, "nobody@example.com"):
        app.post("/password/forgot", {"email": email, "csrf_token": csrf_token(app)}, status=303)
        refused = app.post(
            "/password/forgot", {"email": email, "csrf_token": csrf_token(app)}, status=429
        )
        assert "Please try again in 1 hour" in refused.text


def test_registration_is_limited(make_test_app):
    app = make_test_app(plugins=PROBE, **FAST, **{"mercato.ratelimit.register": "1/minute"})

    def register(email, status):
        return app.post(
            "/register",
            {
                "name": "N",
                "email": email,
                "password": "long password",
                "password_confirm": "long password",
                "csrf_token": csrf_token(app),
            },
            status=status,
        )

    register("one@example.com", status=303)
    app.post("/logout", {"csrf_token": csrf_token(app)})
    refused = register("two@example.com", status=429)

    assert "Please try again in" in refused.text


def test_api_clients_get_a_json_429(make_test_app, customer_user):
    app = make_test_app(plugins=PROBE, **FAST, **{"mercato.ratelimit.login.ip": "1/minute"})
    headers = {"X-CSRF-Token": csrf_token(app)}
    body = {"email": customer_user.email, "password": "wrong"}
    app.post_json("/api/session/login", body, headers=headers, status=400)

    refused = app.post_json("/api/session/login", body, headers=headers, status=429)

    assert refused.json["error"]["status"] == 429
    assert "Please try again in" in refused.json["error"]["message"]
    assert int(refused.headers["Retry-After"]) >= 1


def test_limits_can_be_switched_off(make_test_app, customer_user):
    app = make_test_app(
        plugins=PROBE,
        **FAST,
        **{"mercato.ratelimit.login.ip": "1/minute", "mercato.ratelimit.enabled": "false"},
    )

    for _ in range(3):
        attempt_login(app, customer_user.email, "wrong", status=400)


def test_a_malformed_limit_stops_the_app_with_a_clear_message(make_test_app):
    from mercato import ConfigurationError

    with pytest.raises(ConfigurationError, match="mercato.ratelimit.search"):
        make_test_app(**{"mercato.ratelimit.search": "lots"})


def test_login_takes_as_long_for_an_unknown_email_as_for_a_known_one(make_test_app):
    # A real cost (10, ~60 ms a hash here) so that skipping the hash would show plainly:
    # without the dummy hash an unknown email answers in a few milliseconds.
    app = make_test_app(
        plugins=PROBE,
        **{"mercato.accounts.bcrypt_rounds": "10", "mercato.ratelimit.enabled": "false"},
    )
    app.post(
        "/register",
        {
            "name": "Known",
            "email": "known@example.com",
            "password": "the real password",
            "password_confirm": "the real password",
            "csrf_token": csrf_token(app),
        },
        status=303,
    )
    app.post("/logout", {"csrf_token": csrf_token(app)})
    attempt_login(app, "warm-up@example.com", "wrong", status=400)

    def median_seconds(email):
        timings = []
        for _ in range(5):
            token = csrf_token(app)
            started = time.perf_counter()
            app.post(
                "/login",
                {"email": email, "password": "wrong", "csrf_token": token},
                status=400,
            )
            timings.append(time.perf_counter() - started)
        return statistics.median(timings)

    known, unknown = median_seconds("known@example.com"), median_seconds("nobody@example.com")

    assert 0.5 < unknown / known < 2, f"known {known:.3f}s, unknown {unknown:.3f}s"
