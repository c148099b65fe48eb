"""The browser may load Stripe.js and reach Stripe's API, and still nothing else."""

import pytest


@pytest.fixture
def mercato_plugins():
    return ["payments_stripe"]


def policy(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    return {
        name: sources
        for name, *sources in (part.split() for part in header.split(";") if part.strip())
    }


def test_stripe_js_origin_is_allowed_for_scripts_frames_and_api_calls(
    make_test_app, stripe_settings, localstripe
):
    app = make_test_app(plugins=["payments_stripe"], **stripe_settings)
    csp = policy(app.get("/healthz"))
    assert csp["script-src"] == ["'self'", localstripe.url]
    assert csp["frame-src"] == ["'self'", localstripe.url]
    assert csp["connect-src"] == ["'self'", localstripe.url]
    assert "'unsafe-inline'" not in " ".join(sum(csp.values(), []))


def test_real_stripe_also_gets_its_3d_secure_frames(make_test_app, stripe_settings):
    settings = {
        **stripe_settings,
        "mercato.payments_stripe.js_url": "https://js.stripe.com/v3/",
        "mercato.payments_stripe.api_base": "https://api.stripe.com",
    }
    csp = policy(make_test_app(plugins=["payments_stripe"], **settings).get("/healthz"))
    assert csp["script-src"] == ["'self'", "https://js.stripe.com"]
    assert csp["frame-src"] == ["'self'", "https://js.stripe.com", "https://hooks.stripe.com"]
    assert csp["connect-src"] == ["'self'", "https://api.stripe.com"]
