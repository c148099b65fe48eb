"""Order and account emails, sent over real SMTP (aiosmtpd) once the transaction that
recorded them commits — and never for one that aborts."""

import pytest
from sqlalchemy.orm import Session

from mercato import ConfigurationError, make_app
from mercato.ops.outbox import Worker, entries, now_utc
from mercato.outbox import enqueue
from mercato.testing import base_settings

from .conftest import joined_to
from .outbox_helpers import deliveries, message_count, order_payload


def text_and_html(message):
    """The two parts as written, without the wire's CRLF line ends."""
    return tuple(
        message.get_body((kind,)).get_content().replace("\r\n", "\n") for kind in ("plain", "html")
    )


def with_owner_templates(make_registry, tm_session, tmp_path, files: dict):
    """A registry whose store owner dropped ``files`` (name → text) into
    notifications/emails of their templates folder, and the test's session joined to
    it: ``(registry, session, manager)``."""
    emails = tmp_path / "notifications" / "emails"
    emails.mkdir(parents=True)
    for name, text in files.items():
        (emails / name).write_text(text)
    registry = make_registry(**{"mercato.notifications.templates_dir": str(tmp_path)})
    session, manager = joined_to(tm_session, registry)
    return registry, session, manager


def test_order_confirmation_arrives_once_with_its_lines_and_totals(
    app_session, smtp_server, registry, db_engine
):
    session, manager = app_session
    with manager:
        enqueue(session, "order.placed", order_payload())

    [message] = smtp_server.messages  # delivered as the commit returned
    assert message["To"] == "anna@example.com"
    assert message["From"] == "Test Shop <orders@shop.example>"
    assert message["Subject"] == "Order M-1001 confirmed — Test Shop"
    assert smtp_server.envelopes == [("orders@shop.example", ["anna@example.com"])]
    text, html = text_and_html(message)
    assert "Hello Anna Berg," in text
    assert "2 x Blue mug (MUG-BLUE) at €12.50: €25.00" in text
    assert "1 x Tea towel (TOWEL-1) at €8.99: €8.99" in text
    assert "Subtotal: €33.99" in text
    assert "Shipping: €4.95" in text
    assert "Total: €38.94" in text
    assert "<td>Blue mug<br><small>MUG-BLUE</small></td>" in html
    assert '<td class="num"><strong>€38.94</strong></td>' in html

    [delivery] = deliveries(db_engine)
    assert (delivery.plugin, delivery.status, delivery.attempts) == ("notifications", "sent", 1)
    # The worker finds nothing left to do: the email is not sent a second time.
    assert Worker(registry).run_once() == 0
    assert len(smtp_server.messages) == 1


def test_aborted_transaction_records_and_sends_nothing(
    app_session, smtp_server, registry, db_engine
):
    session, manager = app_session
    with pytest.raises(RuntimeError), manager:
        enqueue(session, "order.placed", order_payload())
        raise RuntimeError("payment declined")  # the checkout fails after the enqueue

    manager.begin()
    enqueue(session, "account.created", {"email": "bob@example.com"})
    manager.abort()

    assert message_count(db_engine) == 0
    Worker(registry).run_once()
    assert smtp_server.messages == []


def test_mercato_notify_sends_each_event_as_its_email(app_session, smtp_server):
    session, manager = app_session
    with manager:
        enqueue(session, "order.paid", order_payload())
        enqueue(session, "order.shipped", order_payload(tracking_url="https://track.example/1"))
        enqueue(session, "order.refunded", order_payload(amount={"amount": 899, "currency": "EUR"}))
        account = {"email": "bob@example.com", "name": "Bob"}
        enqueue(session, "account.created", {**account, "account_url": "https://shop.example/me"})
        enqueue(
            session,
            "account.password_reset",
            {**account, "reset_url": "https://shop.example/reset/abc", "expires_in_minutes": 60},
        )
        enqueue(
            session,
            "account.invited",
            {
                **account,
                "role": "staff",
                "invited_by": "Ada",
                "set_password_url": "https://shop.example/reset/inv",
                "expires_in_hours": 72,
            },
        )

    sent = {m["Subject"]: text_and_html(m) for m in smtp_server.messages}
    assert "€38.94" in sent["Payment received for order M-1001 — Test Shop"][0]
    assert "https://track.example/1" in sent["Order M-1001 is on its way — Test Shop"][1]
    assert (
        "we have refunded €8.99 for order M-1001" in sent["Refund for order M-1001 — Test Shop"][0]
    )
    assert "Hello Bob," in sent["Welcome to Test Shop"][0]
    assert "Your account: https://shop.example/me" in sent["Welcome to Test Shop"][0]
    text, html = sent["Reset your password — Test Shop"]
    assert "open this link within 60 minutes:\n\nhttps://shop.example/reset/abc\n" in text
    assert '<a class="button" href="https://shop.example/reset/abc">' in html
    text, html = sent["You are invited to run Test Shop"]
    assert "Ada has given you a staff account at Test Shop." in text
    assert "within 72 hours:\n\nhttps://shop.example/reset/inv\n" in text
    assert '<a class="button" href="https://shop.example/reset/inv">' in html


def test_unknown_event_sends_no_email_and_is_no_error(app_session, smtp_server, db_engine):
    session, manager = app_session
    with manager:
        enqueue(session, "wishlist.shared", {"email": "anna@example.com"})

    assert smtp_server.messages == []
    [delivery] = deliveries(db_engine)
    assert (delivery.status, delivery.last_error) == ("sent", None)


def test_money_and_shop_name_follow_the_settings(make_registry, tm_session, smtp_server):
    registry = make_registry(
        **{
            "mercato.locale": "de_DE",
            "mercato.shop_name": "Kaffeehaus",
            "mercato.notifications.logo_url": "https://cdn.example/logo.png",
        }
    )
    session, manager = joined_to(tm_session, registry)
    with manager:
        enqueue(session, "order.placed", order_payload())

    [message] = smtp_server.messages
    text, html = text_and_html(message)
    assert message["From"] == "Kaffeehaus <orders@shop.example>"
    assert "Total: 38,94\xa0€" in text
    assert '<img src="https://cdn.example/logo.png" alt="Kaffeehaus" height="48">' in html


def test_store_owner_overrides_a_template_by_dropping_a_file(
    make_registry, tm_session, smtp_server, tmp_path
):
    _, session, manager = with_owner_templates(
        make_registry,
        tm_session,
        tmp_path,
        {
            "order_placed.txt.jinja2": "Subject: Thanks from the corner shop\n\n"
            "We got order {{ number }}: {{ total|money }}.",
            "order_placed.html.jinja2": "<p>We got order <b>{{ number }}</b> "
            "({{ customer_name }})</p>",
        },
    )
    with manager:
        enqueue(session, "order.placed", order_payload(customer_name="<Anna & Co>"))
        enqueue(session, "order.paid", order_payload())  # not overridden: the plugin's

    placed, paid = smtp_server.messages
    assert placed["Subject"] == "Thanks from the corner shop"
    text, html = text_and_html(placed)
    assert text.strip() == "We got order M-1001: €38.94."
    assert html.strip() == "<p>We got order <b>M-1001</b> (&lt;Anna &amp; Co&gt;)</p>"
    assert paid["Subject"] == "Payment received for order M-1001 — Test Shop"


def test_template_error_is_reported_and_retried_once_fixed(
    make_registry, tm_session, smtp_server, db_engine, tmp_path
):
    registry, session, manager = with_owner_templates(
        make_registry,
        tm_session,
        tmp_path,
        {
            "order_placed.txt.jinja2": "Subject: Order {{ number }}\n\n{{ gift_note }}",
            "order_placed.html.jinja2": "<p>{{ number }}</p>",
        },
    )
    broken = tmp_path / "notifications" / "emails" / "order_placed.txt.jinja2"
    with manager:  # the order itself commits: a broken email never loses an order
        enqueue(session, "order.placed", order_payload())

    assert smtp_server.messages == []
    [delivery] = deliveries(db_engine)
    assert delivery.status == "pending" and delivery.attempts == 1
    assert delivery.last_error == "UndefinedError: 'gift_note' is undefined"
    with Session(db_engine) as check:
        [entry] = entries(check)
    assert entry.last_error == delivery.last_error and entry.recipient == "anna@example.com"

    broken.write_text("Subject: Order {{ number }}\n\nThank you!")
    Worker(registry).run_once(now=delivery.next_attempt_at)
    [message] = smtp_server.messages
    assert text_and_html(message)[0].strip() == "Thank you!"


def test_template_syntax_error_names_the_file(
    make_registry, tm_session, smtp_server, db_engine, tmp_path
):
    registry, session, manager = with_owner_templates(
        make_registry,
        tm_session,
        tmp_path,
        {
            "account_created.txt.jinja2": "Subject: Hi\n\n{% if",
            "account_created.html.jinja2": "<p>Hi</p>",
        },
    )
    with manager:
        enqueue(session, "account.created", {"email": "bob@example.com"})

    assert smtp_server.messages == []
    [delivery] = deliveries(db_engine)
    assert delivery.last_error.startswith("TemplateSyntaxError: ")
    assert Worker(registry).run_once(now=now_utc()) == 0  # not due yet: backoff


def test_text_template_without_subject_line_is_reported(
    make_registry, tm_session, smtp_server, db_engine, tmp_path
):
    _, session, manager = with_owner_templates(
        make_registry,
        tm_session,
        tmp_path,
        {
            "account_created.txt.jinja2": "Welcome!",
            "account_created.html.jinja2": "<p>Welcome!</p>",
        },
    )
    with manager:
        enqueue(session, "account.created", {"email": "bob@example.com"})

    assert smtp_server.messages == []
    [delivery] = deliveries(db_engine)
    assert delivery.last_error == (
        "TemplateError: notifications/emails/account_created.txt.jinja2 must begin with a "
        "'Subject: …' line"
    )


def test_log_transport_writes_the_email_to_the_log(
    make_registry, tm_session, smtp_server, db_engine, caplog
):
    registry = make_registry(**{"mercato.notifications.transport": "log"})
    session, manager = joined_to(tm_session, registry)
    with caplog.at_level("INFO", logger="mercato_notifications"), manager:
        enqueue(session, "order.placed", order_payload())

    assert smtp_server.messages == []
    lines = [r.message for r in caplog.records if r.name == "mercato_notifications.services"]
    assert lines[1:3] == ["To: anna@example.com", "Subject: Order M-1001 confirmed — Test Shop"]
    assert any("Total: €38.94" in line for line in lines[3:])
    assert deliveries(db_engine)[0].status == "sent"


def test_email_event_without_recipient_is_reported(app_session, smtp_server, db_engine):
    session, manager = app_session
    with manager:
        enqueue(session, "order.placed", order_payload(email=None))

    [delivery] = deliveries(db_engine)
    assert delivery.last_error == (
        "ValueError: order.placed has an email template but its payload has no 'email'"
    )


def test_payload_must_be_json(app_session):
    session, manager = app_session
    with manager, pytest.raises(TypeError, match="outbox payload for 'order.placed' is not JSON"):
        enqueue(session, "order.placed", {"email": "a@example.com", "when": now_utc()})


def test_bad_settings_stop_the_app_with_one_line(migrated_database, redis_url, tmp_path):
    settings = base_settings(
        **{
            "sqlalchemy.url": migrated_database,
            "redis.url": redis_url,
            "mercato.plugins": "notifications",
            "mercato.notifications.security": "ssl",
            "mercato.notifications.templates_dir": str(tmp_path),
        }
    )
    with pytest.raises(ConfigurationError) as error:
        make_app(settings, environ={})
    assert str(error.value) == (
        "mercato: plugin 'notifications' setting mercato.notifications.security: "
        '"ssl" is not one of none, starttls, tls — set mercato.notifications.security '
        "in the ini file"
    )

    settings["mercato.notifications.security"] = "starttls"
    settings["mercato.notifications.templates_dir"] = str(tmp_path / "missing")
    with pytest.raises(ConfigurationError, match=r"folder .*missing does not exist"):
        make_app(settings, environ={})


def test_smtp_password_comes_from_the_environment(migrated_database, redis_url):
    settings = base_settings(
        **{
            "sqlalchemy.url": migrated_database,
            "redis.url": redis_url,
            "mercato.plugins": "notifications",
        }
    )
    app = make_app(settings, environ={"SMTP_PASSWORD": "from-env"})
    try:
        assert app.registry.notifications_mailer.sender.password == "from-env"
    finally:
        app.registry.db_engine.dispose()
