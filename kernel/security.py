"""Who is asking: ``request.user``.

Placeholder until the accounts work lands: every request is a guest.
"""


def includeme(config):
    config.add_request_method(lambda request: None, "user", reify=True)
