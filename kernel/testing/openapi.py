"""Every ``/api`` answer a test receives through webtest is checked against the app's
OpenAPI document (``GET /api/openapi.json``, served by the api plugin): its path and
method must be documented, its status too (``4XX`` ranges count), and its JSON must
match the documented schema. A mismatch fails the test with what was wrong and where.

One wrapper around ``webtest.TestApp.do_request`` for the whole run (the autouse
``openapi_checked_responses`` fixture), so the first-party suites and a plugin
author's alike check every answer without asking. An app without the api plugin has
no document and is not checked.
"""

import json
import re
import threading
import weakref

import pytest
import webtest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from webob import Request

DOCUMENT_PATH = "/api/openapi.json"
JSON = "application/json"
DOCUMENT_URI = "urn:mercato:openapi"
_documents: "weakref.WeakKeyDictionary[object, ApiDocument | None]" = weakref.WeakKeyDictionary()
_lock = threading.Lock()


class ApiDocument:
    """An OpenAPI 3.1 document, ready to check answers against."""

    def __init__(self, document: dict):
        self.document = document
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self.registry = Registry().with_resource(DOCUMENT_URI, resource)
        self.templates = [
            (_template_regex(path, "[^/]+"), _template_regex(path, ".+"), path)
            for path in sorted(document.get("paths", {}), key=_literal_length, reverse=True)
        ]

    def template_of(self, path: str) -> str | None:
        """The documented path template that ``path`` is an instance of."""
        for strict, _, template in self.templates:
            if strict.fullmatch(path):
                return template
        for _, loose, template in self.templates:
            if loose.fullmatch(path):
                return template
        return None

    def problems(self, method: str, path: str, status: int, content_type: str, body) -> list[str]:
        """What is wrong with this answer, in words (an empty list: nothing)."""
        template = self.template_of(path)
        if template is None:
            # No route there (404), or an address that cannot be read (400): refused
            # before any operation, as the document says by not listing it.
            return [] if 400 <= status < 500 else [f"{path} is not in the document"]
        operation = self.document["paths"][template].get(method.lower())
        if operation is None:
            # Refusing a method the document does not offer is what the document says.
            return [] if status == 405 else [f"{method} {template} is not in the document"]
        responses = operation.get("responses", {})
        key = next(
            (k for k in (str(status), f"{str(status)[0]}XX", "default") if k in responses), None
        )
        if key is None:
            return [f"status {status} of {method} {template} is not in the document"]
        pointer, response = self._resolved(
            f"/paths/{_escaped(template)}/{method.lower()}/responses/{key}", responses[key]
        )
        documented = response.get("content", {})
        if not documented:
            return []
        if content_type not in documented:
            return [f"answered {content_type or 'no content type'}, documented: {list(documented)}"]
        if content_type != JSON or "schema" not in documented[content_type]:
            return []
        # By reference into the document: the schema's own "#/components/…" resolve there.
        where = f"{DOCUMENT_URI}#{pointer}/content/{_escaped(JSON)}/schema"
        validator = Draft202012Validator({"$ref": where}, registry=self.registry)
        return [
            f"at /{'/'.join(map(str, error.absolute_path))}: {error.message}"
            for error in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        ][:10]

    def _resolved(self, pointer: str, item: dict) -> tuple[str, dict]:
        """``item`` (at ``pointer``) or what its ``$ref`` names, and where that is."""
        while "$ref" in item:
            pointer = item["$ref"].removeprefix("#")
            item = self.registry.resolver(DOCUMENT_URI).lookup(item["$ref"]).contents
        return pointer, item


def _escaped(segment: str) -> str:
    """A JSON pointer's segment (RFC 6901)."""
    return segment.replace("~", "~0").replace("/", "~1")


def _literal_length(template: str) -> int:
    return len(re.sub(r"{[^}]*}", "", template))


def _template_regex(template: str, parameter: str) -> re.Pattern:
    parts = re.split(r"({[^}]*})", template)
    return re.compile(
        "".join(parameter if part.startswith("{") else re.escape(part) for part in parts)
    )


def document_of(app) -> ApiDocument | None:
    """The document ``app`` serves (once per app), None when it serves none."""
    with _lock:
        if app in _documents:
            return _documents[app]
        response = Request.blank(DOCUMENT_PATH, remote_addr="127.0.0.1").get_response(app)
        found = ApiDocument(response.json) if response.status_int == 200 else None
        _documents[app] = found
        return found


def check_answer(app, request, response) -> None:
    """Fail (``AssertionError``) when ``response`` to ``request`` breaks the document."""
    path = request.environ.get("PATH_INFO", "")  # as sent: request.path_info may not decode
    if not path.startswith("/api/") or path == DOCUMENT_PATH or request.method == "HEAD":
        return
    if "%00" in request.environ.get("QUERY_STRING", "") or "\x00" in path:
        return  # refused by the shop's edge before any route (tests/security), not an API's
    document = document_of(app)
    if document is None:
        return
    content_type = response.content_type or ""
    body = None
    if content_type == JSON:
        try:
            body = json.loads(response.body)
        except ValueError:
            raise AssertionError(
                f"{request.method} {path} answered JSON that does not parse"
            ) from None
    problems = document.problems(request.method, path, response.status_int, content_type, body)
    if problems:
        raise AssertionError(
            f"{request.method} {path} answered {response.status} against the OpenAPI "
            f"document ({DOCUMENT_PATH}):\n  " + "\n  ".join(problems)
        )


@pytest.fixture(scope="session", autouse=True)
def openapi_checked_responses():
    """Checks every webtest answer of the run against its app's API document."""
    unchecked = webtest.TestApp.do_request

    def do_request(self, req, status=None, expect_errors=None):
        response = unchecked(self, req, status=status, expect_errors=expect_errors)
        check_answer(self.app, req, response)
        return response

    webtest.TestApp.do_request = do_request
    yield
    webtest.TestApp.do_request = unchecked
