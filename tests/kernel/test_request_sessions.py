"""A request's PostgreSQL session commits with the request, whichever transaction manager
the shop gives pyramid_tm: the thread's (the default: the request factory is joined to it
once) or a request's own (``tm.manager_hook = pyramid_tm.explicit_manager``, which
pyramid_tm recommends: its sessions are joined one by one). A session of the app's own
factory, outside any request (a script, the worker), still commits by itself."""

import pytest
from sqlalchemy import select

from mercato.accounts.models import User
from mercato.testing import csrf_token

MANAGERS = {
    "thread's manager": {},
    "explicit manager": {"tm.manager_hook": "pyramid_tm.explicit_manager"},
}


@pytest.mark.parametrize("manager", MANAGERS)
def test_a_request_s_write_commits_with_the_request(make_test_app, dbsession, manager):
    app = make_test_app([], **{"mercato.accounts.bcrypt_rounds": "4", **MANAGERS[manager]})
    password = "a long enough password"
    response = app.post(
        "/register",
        {
            "name": "Nina",
            "email": "nina@example.com",
            "password": password,
            "password_confirm": password,
            "csrf_token": csrf_token(app),
        },
    )
    assert response.status_int == 303, response.text[:500]
    assert dbsession.scalar(select(User.email)) == "nina@example.com"


@pytest.mark.parametrize("manager", MANAGERS)
def test_a_session_of_the_app_s_factory_commits_by_itself(make_test_app, dbsession, manager):
    app = make_test_app([], **MANAGERS[manager])
    with app.app.registry.dbsession_factory() as session:
        session.add(
            User(email="script@example.com", name="Script", role="customer", password_hash="x")
        )
        session.commit()
    assert dbsession.scalar(select(User.email)) == "script@example.com"
