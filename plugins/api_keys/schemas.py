"""What an admin sends in the form that creates a key.

``read_new_key`` returns clean values or raises ``BadInput`` with a sentence and the
field it belongs to: the form comes back with a 400, nothing saved.
"""

import re
from typing import NamedTuple

from .scopes import SCOPES

MAX_NAME = 100
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
OWNER_ID = re.compile(r"^\d{1,9}$")


class BadInput(Exception):
    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.message = message
        self.field = field


class NewKey(NamedTuple):
    name: str
    owner_id: int
    scopes: list[str]


def read_new_key(post, owner_ids: set[int]) -> NewKey:
    """``post`` is the form: ``name``, ``owner`` (a user id among ``owner_ids``) and
    one ``scope`` field per ticked box."""
    name = post.get("name", "")
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        raise BadInput("Give the key a name that says who uses it, like “ERP sync”.", "name")
    if len(name) > MAX_NAME or CONTROL.search(name):
        raise BadInput(f"Write a name of at most {MAX_NAME} plain characters.", "name")
    owner = post.get("owner", "")
    if not isinstance(owner, str) or not OWNER_ID.match(owner) or int(owner) not in owner_ids:
        raise BadInput("Choose a staff member or admin from the list.", "owner")
    scopes = post.getall("scope")
    if not scopes:
        raise BadInput("Tick at least one scope: a key without one can do nothing.", "scope")
    if any(scope not in SCOPES for scope in scopes):
        raise BadInput("Choose scopes from the list.", "scope")
    return NewKey(name, int(owner), sorted(set(scopes)))
