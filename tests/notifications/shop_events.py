"""A test plugin whose view records an event the way checkout and accounts do."""

from mercato import hookimpl
from mercato.outbox import enqueue


def sign_up(request):
    enqueue(request.dbsession, "account.created", {"email": request.params["email"]})
    if request.params.get("refuse"):
        # A returned 4xx (not a raised one): tm.commit_veto must abort the transaction.
        request.response.status_int = 400
        return "refused"
    return "welcome"


@hookimpl
def mercato_configure(config):
    config.add_route("test_sign_up", "/test/sign-up")
    config.add_view(sign_up, route_name="test_sign_up", renderer="string")
