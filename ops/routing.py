"""How a request finds its view, made cheaper than Pyramid's defaults (bench/README.md,
"The request cycle"): a routes mapper that asks only the routes a path can match, and
one request class that carries the plugins' request properties."""

from pyramid.config import PHASE3_CONFIG
from pyramid.interfaces import IRequestExtensions, IRequestFactory, IRoutesMapper
from pyramid.request import Request
from pyramid.urldispatch import RoutesMapper


class RoutesByFirstSegment(RoutesMapper):
    """Pyramid's routes mapper, asking only the routes that can match the path: those
    whose pattern starts with the path's first segment, or with a placeholder, in
    their order. Pyramid tried all ~130 routes in turn: /healthz, added late, spent
    a fifth of its in-process time matching 126 of them (cProfile)."""

    def __init__(self):
        super().__init__()
        self._candidates: dict[str | None, list] = {}

    def connect(self, *args, **kwargs):
        self._candidates = {}
        return super().connect(*args, **kwargs)

    def __call__(self, request):
        try:
            path = request.path_info or "/"
        except (KeyError, UnicodeDecodeError):
            return super().__call__(request)  # the base's answer (or error) for these
        for route in self.candidates(path):
            match = route.match(path)
            if match is not None:
                info = {"match": match, "route": route}
                if not all(predicate(info, request) for predicate in route.predicates):
                    continue
                return info
        return {"route": None, "match": None}

    def candidates(self, path: str) -> list:
        """The routes that can match ``path``, in their order."""
        candidates = self._candidates
        if not candidates:
            firsts = {_first_segment(route.pattern) for route in self.routelist} | {None}
            candidates = self._candidates = {
                key: [r for r in self.routelist if _first_segment(r.pattern) in (key, None)]
                for key in firsts
            }
        # Any other first segment: the routes with placeholders (a bounded dict).
        return candidates.get(path.lstrip("/").partition("/")[0], candidates[None])


def _first_segment(pattern: str) -> str | None:
    """The literal first segment of a route pattern; None when it has a placeholder."""
    segment = pattern.lstrip("/").partition("/")[0]
    return None if any(c in segment for c in "{*:") else segment


def one_request_class(registry) -> None:
    """The plugins' request properties (``add_request_method(reify=True)``) on one
    request class made here, once: Pyramid made a class per request to hold them, 13%
    of a request's samples under load (py-spy) and garbage for the collector."""
    extensions = registry.queryUtility(IRequestExtensions)
    factory = registry.queryUtility(IRequestFactory, default=Request)
    if extensions is None or not extensions.descriptors or not isinstance(factory, type):
        return
    properties = {"__module__": factory.__module__, **extensions.descriptors}
    registry.registerUtility(type(factory.__name__, (factory,), properties), IRequestFactory)
    extensions.descriptors = {}  # applied to each request by the router: nothing left


def includeme(config):
    """Called by the ops plugin before any other plugin configures: the routes added so
    far (the kernel's) move to the new mapper; the request class is made once every
    plugin's request properties are in (an action after the default phase)."""
    mapper = RoutesByFirstSegment()
    found = config.registry.queryUtility(IRoutesMapper)
    if found is not None:
        mapper.routelist[:] = found.routelist
        mapper.static_routes[:] = found.static_routes
        mapper.routes.update(found.routes)
    config.registry.registerUtility(mapper, IRoutesMapper)
    config.action(None, lambda: one_request_class(config.registry), order=PHASE3_CONFIG + 1)
