"""A plugin that gives a permission to a role that does not exist."""

from mercato import hookimpl


@hookimpl
def mercato_permissions():
    return {"bad.permission": ["superuser"]}
