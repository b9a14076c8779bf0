"""The lookup route's fast path: the common lookup answered without FastAPI's per-request
machinery, with the same checks and the same bytes as the route.

A single-file lookup against a loaded in-process index is about 0.1 ms of work, while
FastAPI's middleware layers, dependency solving and body parsing cost about 0.4 ms around
it (measured with `python -m benchmarks.lookup`): at 64 concurrent clients per core that
overhead alone puts p99 past 50 ms. This ASGI layer, in front of the app, answers a
request itself only when every step of the route would succeed without I/O: a version
and an index already in memory, a key already verified (or an anonymous caller where
anonymous lookups are on), a JSON body that validates, within every cap, and a rate-limit
turn left. Anything else (errors included) goes to the route untouched, with the body
replayed, and nothing spent: so every error answer is the route's own.
"""

import logging
import re
import time

from fastapi.security import HTTPAuthorizationCredentials
from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import api_key_scheme, bearer_scheme
from api.deps import VersionRef
from api.problems import Problem, problem_response
from api.routes.lookup import admit, answer, answers_inline, caller_of, checked_query
from api.schemas_lookup import LookupRequest
from api.state import AppState

log = logging.getLogger("api")

#: The route template the metrics count requests under (as MetricsMiddleware names it).
TEMPLATE = "/v1/datasets/{dataset}/versions/{version}/lookup"
#: The same path as a pattern (FastAPI's `{param}` matches `[^/]+` of the decoded path).
PATH = re.compile(re.sub(r"\{\w+\}", "([^/]+)", TEMPLATE))
#: Bodies larger than this (or of unknown length) go to the route: they are not answered
#: inline anyway (`INLINE_BYTES` of content, plus JSON escapes).
MAX_BODY = 384 << 10


class LookupFastPath:
    def __init__(self, app: ASGIApp, state: AppState) -> None:
        self.app = app
        self.state = state
        self.answered = 0
        """Lookups answered here (the rest went to the route)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        found = PATH.fullmatch(scope["path"])
        if found is None or not self.state.settings.lookup_fast_path:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request = Request(scope)
        length = request.headers.get("content-length", "")
        content_type = request.headers.get("content-type", "")
        if not (
            length.isdigit()
            and int(length) <= min(MAX_BODY, self.state.settings.lookup_max_body_bytes)
            and content_type.partition(";")[0].strip().lower() == "application/json"
        ):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:  # the client went away mid-body: nobody to answer
            return
        data = await self._answer(request, found.group(1), found.group(2), body)
        if data is None:
            await self.app(scope, _replay(body, receive), send)
            return
        status, headers, content = data
        self.answered += 1
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})
        self.state.metrics.observe("POST", TEMPLATE, status, time.perf_counter() - started)

    async def _answer(
        self, request: Request, dataset: str, version_name: str, body: bytes
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        """(status, headers, body) of the answer, or None where the route must answer."""
        state = self.state
        version = state.versions.cached(dataset, version_name)
        index = state.lookups.cached(dataset, version_name) if version is not None else None
        if index is None:
            return None
        key = await _known_key(state, request)
        if key is False:
            return None
        try:
            principal = admit(state, key)
            query = checked_query(state.settings, LookupRequest.model_validate_json(body),
                                  principal)  # fmt: skip
        except (Problem, ValidationError):
            return None
        if not answers_inline(index, query):
            return None
        if state.lookup_limits.take(caller_of(key, request.client and request.client.host)):
            return None  # nothing was spent: the route answers the 429 (or, refilled, serves)
        try:
            content = answer(state, VersionRef(dataset, version), query, index)
        except Problem as problem:  # past the rate limit: answered here, as the route would
            return _problem(request, problem)
        except Exception:
            log.exception("unexpected error on POST %s", request.url.path)
            return _problem(request, Problem(500, "internal-error", _INTERNAL))
        return 200, [(b"content-type", b"application/json"), _length(content)], content


_INTERNAL = "the server failed to answer this request; the error is in the server log"


async def _known_key(state: AppState, request: Request):
    """The key the request presents if it is known and active, None for no key, False for
    anything the route must decide (an unverified, revoked or malformed credential)."""
    if "authorization" not in request.headers and "x-api-key" not in request.headers:
        return None
    bearer: HTTPAuthorizationCredentials | None = await bearer_scheme(request)
    token = bearer.credentials if bearer is not None else await api_key_scheme(request)
    if not token:
        return False
    key = state.keys.remembered(token)
    return key if key is not None and key.active else False


async def _read_body(receive: Receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """`receive` that hands the route the body already read, then the connection's events."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def _length(content: bytes) -> tuple[bytes, bytes]:
    return b"content-length", b"%d" % len(content)


def _problem(request: Request, problem: Problem) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    response = problem_response(request, problem)
    return response.status_code, response.raw_headers, bytes(response.body)
