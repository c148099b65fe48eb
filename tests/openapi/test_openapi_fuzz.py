"""schemathesis against the served document: examples made from each operation's
schema, sent to the composed shop (every installed plugin) as a logged-in admin with
the session's CSRF token, must never answer a 5xx, an undocumented status or content
type, or JSON that breaks the operation's response schema.

A bounded run in the suite (``MERCATO_FUZZ_EXAMPLES`` examples per operation, 4 by
default); ``make fuzz`` runs many more.
"""

import os
import re

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from mercato.testing import csrf_token, login
from mercato_catalog.models import Product, Variant

PARAMETER = re.compile(r"{([^}]+)}")
EXAMPLES = int(os.environ.get("MERCATO_FUZZ_EXAMPLES", "4"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Logging out would end the admin's session for the operations after it.
SKIPPED = {"POST /api/session/logout"}
# Path parameters that name something that exists, besides the random ones.
KNOWN = {"slug": "tee", "sku": "TEE"}


@pytest.fixture
def fuzzed_shop(every_plugin_app, admin_user, dbsession):
    product = Product(slug="tee", name="Tee", active=True)
    product.variants = [Variant(sku="TEE", price_amount=2000, price_currency="EUR", stock=5)]
    dbsession.add(product)
    dbsession.commit()
    login(every_plugin_app, admin_user.email, admin_user.password)
    session = {
        "cookies": {"mercato_session": every_plugin_app.cookies["mercato_session"]},
        "headers": {"X-CSRF-Token": csrf_token(every_plugin_app)},
    }
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", every_plugin_app.app)
    return schema, session


def cases_of(operation):
    """Examples of ``operation``: random ones, and ones that name what exists."""
    cases = operation.as_strategy()
    known = {name: KNOWN[name] for name in PARAMETER.findall(operation.path) if name in KNOWN}
    if known:
        cases |= operation.as_strategy(path_parameters=known)
    return cases


def test_no_operation_answers_a_5xx_or_breaks_its_schema(fuzzed_shop):
    schema, session = fuzzed_shop
    failures = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30
    for operation in operations:
        if operation.label in SKIPPED:
            continue

        @hypothesis.settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        )
        @hypothesis.given(case=cases_of(operation))
        def fuzz(case):
            case.call_and_validate(checks=CHECKS, **session)

        try:
            fuzz()
        except Exception as exc:  # every operation's failure, reported together
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
