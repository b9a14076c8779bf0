"""ETags and conditional requests for answers that a version (immutable) fully determines."""

import hashlib
from dataclasses import dataclass

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

#: Bump when the JSON shape of answers changes, so clients do not keep stale copies.
REPRESENTATION = "1"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "public, no-cache"


def quote(tag: str) -> str:
    return f'"{tag}"'


def matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison of an If-None-Match list against one (quoted) ETag."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(part.strip().removeprefix("W/") == wanted for part in if_none_match.split(","))


@dataclass(frozen=True)
class Cached:
    """Answer 304 when the client already has this ETag, else JSON with the ETag."""

    etag: str
    if_none_match: str | None
    cache_control: str = IMMUTABLE

    @classmethod
    def for_request(
        cls, request: Request, if_none_match: str | None, *basis: object, cache_control=IMMUTABLE
    ) -> "Cached":
        query = "&".join(sorted(f"{k}={v}" for k, v in request.query_params.multi_items()))
        key = "\0".join([REPRESENTATION, *map(str, basis), request.url.path, query])
        etag = quote(hashlib.sha256(key.encode()).hexdigest()[:32])
        return cls(etag, if_none_match, cache_control)

    @property
    def headers(self) -> dict[str, str]:
        return {"ETag": self.etag, "Cache-Control": self.cache_control}

    @property
    def fresh(self) -> bool:
        """The client's copy is current: answer `not_modified()` without doing the work."""
        return matches(self.if_none_match, self.etag)

    def not_modified(self) -> Response:
        return Response(status_code=304, headers=self.headers)

    def json(self, model: BaseModel) -> Response:
        return self.json_body(model.model_dump(mode="json", by_alias=True))

    def json_body(self, body: object) -> Response:
        return JSONResponse(body, headers=self.headers)
