"""A test plugin whose one route changes the session and queues a Redis write for the
commit, after running ``before_commit`` (set by the test: it kills a Redis node)."""

from pyramid.view import view_config

from mercato import hookimpl, redis_writes

before_commit = None


@view_config(route_name="test_redis_write", request_method="POST", renderer="json")
def write(request):
    redis_writes(request).call("set", request.matchdict["key"], "written")
    request.session["written"] = request.matchdict["key"]  # saved once the response is made
    if before_commit is not None:
        before_commit()
    return {"written": True}


@hookimpl
def mercato_configure(config):
    config.add_route("test_redis_write", "/test-redis/write/{key}")
    config.scan(__name__)
