"""The carriers setting: checked when the shop starts, so a typo in a tracking URL is
found by the store owner, not by a customer following a broken link."""

import pytest

from mercato import ConfigurationError, make_app
from mercato.testing import base_settings
from mercato_fulfilment import carriers


def start(carriers_setting: str):
    settings = base_settings(
        **{
            # Never reached: the settings are checked before anything connects.
            "sqlalchemy.url": "postgresql://nobody@127.0.0.1:1/none",
            "redis.url": "redis://127.0.0.1:1/0",
            "mercato.plugins": "fulfilment",
            "mercato.fulfilment.carriers": carriers_setting,
        }
    )
    return make_app(settings, environ={})


@pytest.mark.parametrize(
    ("setting", "problem"),
    [
        ("dhl", "write each carrier as code=URL"),
        ("DHL=https://dhl.example/{tracking}", "use lowercase letters"),
        ("dhl=https://dhl.example/track", "must hold {tracking} once"),
        ("dhl=https://dhl.example/{tracking}/{tracking}", "must hold {tracking} once"),
        ("dhl=https://dhl.example/{tracking}?x={id}", "has a brace that is not {tracking}"),
        ("dhl=javascript:alert(1)//{tracking}", "must start with https://"),
        ("dhl= other= dhl=", "carrier dhl is listed twice"),
        ("", "list at least one carrier"),
    ],
)
def test_a_bad_carriers_setting_stops_the_shop_at_start_up(setting, problem):
    with pytest.raises(ConfigurationError) as refused:
        start(setting)

    message = str(refused.value)
    assert "mercato.fulfilment.carriers" in message and problem in message


def test_the_default_carriers_have_tracking_pages():
    defaults = carriers.parse(carriers.DEFAULT)

    assert list(defaults) == ["dhl", "dpd", "ups", "fedex", "usps", "colissimo", "other"]
    assert [carriers.name_of(code) for code in defaults][-2:] == [
        "La Poste Colissimo",
        "Other carrier",
    ]
    for code, template in defaults.items():
        link = carriers.tracking_url(defaults, code, "AB 12/3?&#")
        assert link == (
            "" if code == "other" else template.replace("{tracking}", "AB%2012%2F3%3F%26%23")
        )


def test_a_shop_lists_its_own_carriers():
    own = carriers.parse("gls=https://gls-group.com/track/{tracking}\nhand-delivery=")

    assert carriers.tracking_url(own, "gls", "Z 9") == "https://gls-group.com/track/Z%209"
    assert carriers.tracking_url(own, "hand-delivery", "Z 9") == ""
    assert carriers.tracking_url(own, "gls", "") == "", "no number, no link"
    assert carriers.name_of("hand-delivery") == "hand-delivery"
