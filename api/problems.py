"""RFC 9457 problem details: every error the service answers is `application/problem+json`.

Routes raise `Problem` (or a codecorpus error, mapped here); FastAPI's own errors
(unknown route, wrong method, request validation) and unexpected exceptions are
rewritten to the same shape.
"""

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.keys import KeyNotFound
from corpus.core.errors import CodecorpusError, DatasetNotFound, VersionNotFound
from tokenizer.store import TokenizerNotFound

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "urn:codecorpus:problem:"
log = logging.getLogger("api")


class Problem(Exception):
    """An error answer: `kind` becomes the problem type (`urn:codecorpus:problem:<kind>`)."""

    def __init__(
        self,
        status: int,
        kind: str,
        detail: str,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.headers = headers or {}
        self.extra = extra or {}


def bad_request(kind: str, detail: str) -> Problem:
    return Problem(400, kind, detail)


def not_found(kind: str, detail: str) -> Problem:
    return Problem(404, kind, detail)


def problem_response(request: Request, problem: Problem) -> JSONResponse:
    instance = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    body = {
        "type": TYPE_BASE + problem.kind,
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "instance": instance,
        **problem.extra,
    }
    return JSONResponse(
        body, status_code=problem.status, headers=problem.headers, media_type=PROBLEM_MEDIA_TYPE
    )


def _from_codecorpus(exc: CodecorpusError) -> Problem:
    if isinstance(exc, DatasetNotFound):
        return not_found("dataset-not-found", str(exc))
    if isinstance(exc, VersionNotFound):
        return not_found("version-not-found", str(exc))
    if isinstance(exc, TokenizerNotFound):
        return not_found("tokenizer-not-found", str(exc))
    if isinstance(exc, KeyNotFound):
        return not_found("key-not-found", str(exc))
    return bad_request("invalid-request", str(exc))


def _validation_detail(errors: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    issues = [
        {
            "location": [str(part) for part in error.get("loc", ())],
            "message": str(error.get("msg", "")),
            "type": str(error.get("type", "")),
        }
        for error in errors
    ]
    shown = "; ".join(f"{'.'.join(i['location'])}: {i['message']}" for i in issues[:3])
    more = f" (and {len(issues) - 3} more)" if len(issues) > 3 else ""
    detail = f"the request is invalid: {shown}{more}; /openapi.json lists every parameter"
    return detail, issues


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(request, exc)

    @app.exception_handler(CodecorpusError)
    async def _codecorpus(request: Request, exc: CodecorpusError) -> JSONResponse:
        return problem_response(request, _from_codecorpus(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail, issues = _validation_detail(list(exc.errors()))
        problem = Problem(422, "validation-error", detail, extra={"errors": issues})
        return problem_response(request, problem)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404 and exc.detail == "Not Found":
            detail = (
                f"no route {request.method} {request.url.path}; the routes are listed in "
                "/openapi.json (browse them at /docs)"
            )
        elif exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            detail = f"{request.method} is not allowed on {request.url.path}; allowed: {allowed}"
        else:
            detail = str(exc.detail)
        kind = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        return problem_response(
            request, Problem(exc.status_code, kind, detail, headers=dict(exc.headers or {}))
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        problem = Problem(
            500,
            "internal-error",
            "the server failed to answer this request; the error is in the server log",
        )
        return problem_response(request, problem)
