"""Account fixtures: ``customer_user``, ``staff_user``, ``admin_user`` (and ``make_user``
for more), and ``login(testapp, email, password)``.

The users are committed to the test database (emptied after each test) with a bcrypt
cost of 4, so logging them in is fast whatever cost the app is configured with (the
cost is read from the stored hash). Each is a ``TestUser``: a plain record with the
password in clear, usable after the database session that made it is gone.
"""

from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from mercato.accounts.models import User
from mercato.accounts.passwords import hash_password

__all__ = [
    "PASSWORD",
    "TestUser",
    "admin_user",
    "customer_user",
    "login",
    "make_user",
    "staff_user",
]

PASSWORD = "correct horse battery staple"  # noqa: S105 (a test fixture's password)
FAST_ROUNDS = 4


@dataclass(frozen=True)
class TestUser:
    __test__ = False  # not a test class, whatever pytest thinks of the name

    id: int
    email: str
    name: str
    role: str
    password: str


@pytest.fixture
def make_user(db_engine, clean_stores):
    """``make_user(email, role="customer", password=PASSWORD, name=...)`` → ``TestUser``."""

    def factory(email: str, role: str = "customer", password: str = PASSWORD, name: str = ""):
        with Session(db_engine) as session, session.begin():
            user = User(
                email=email.lower(),
                name=name or email.split("@")[0].title(),
                role=role,
                password_hash=hash_password(password, FAST_ROUNDS),
            )
            session.add(user)
            session.flush()
            return TestUser(user.id, user.email, user.name, user.role, password)

    return factory


@pytest.fixture
def customer_user(make_user) -> TestUser:
    return make_user("customer@example.com", "customer", name="Carla Customer")


@pytest.fixture
def staff_user(make_user) -> TestUser:
    return make_user("staff@example.com", "staff", name="Sam Staff")


@pytest.fixture
def admin_user(make_user) -> TestUser:
    return make_user("admin@example.com", "admin", name="Ada Admin")


def login(testapp, email: str, password: str = PASSWORD):
    """Log ``testapp`` in through the login form; returns the 303 response.

    Fails the test (webtest's status check) when the login is refused.
    """
    token = testapp.get("/api/session/csrf").json["csrf_token"]
    return testapp.post(
        "/login", {"email": email, "password": password, "csrf_token": token}, status=303
    )
