"""OpenAPI documentation of the answers routes share (errors are problem+json)."""

from typing import Any

from api.schemas import Problem, ValidationProblem

DESCRIPTIONS = {
    400: "Bad request: an invalid filter, cursor or parameter combination",
    401: "No API key, or an unknown or revoked one (see WWW-Authenticate)",
    403: "The API key lacks the scope this route needs",
    404: "No such dataset, version, file, shard or key",
    409: "The lookup index does not match the version: rebuild it",
    413: "The request is larger than the service accepts (files, bytes)",
    416: "Range not satisfiable (Content-Range gives the size)",
    422: "A parameter failed validation; `errors` lists each one",
    429: "Too many requests from this key: retry after Retry-After seconds",
    501: "Not available in this build",
    503: "The catalog (or the lookup index's Redis) cannot be reached",
}


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {
        code: {
            "model": ValidationProblem if code == 422 else Problem,
            "description": DESCRIPTIONS[code],
        }
        for code in codes
    }


NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not Modified: the If-None-Match ETag is still current"}
}
AUTH = problems(401, 403)
