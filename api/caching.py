"""ETags and conditional requests for answers that a version (immutable) fully determines."""

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

#: Bump when the JSON shape of answers changes, so clients do not keep stale copies.
REPRESENTATION = "1"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "public, no-cache"


K = TypeVar("K")
V = TypeVar("V")


class Lru(Generic[K, V]):
    """A thread-safe least-recently-used map bounded by the total weight of its values."""

    def __init__(self, capacity: int, weigh: Callable[[V], int] = lambda _: 1) -> None:
        self.capacity, self.weigh = capacity, weigh
        self._items: OrderedDict[K, V] = OrderedDict()
        self._weight = 0
        self._lock = threading.Lock()  # sync routes use it from the thread pool

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        weight = self.weigh(value)
        if weight > self.capacity:
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = value
            self._weight += weight
            while self._weight > self.capacity:
                self._weight -= self.weigh(self._items.popitem(last=False)[1])

    def __len__(self) -> int:
        return len(self._items)


class BodyCache(Lru[str, bytes]):
    """Serialized answers by ETag, least recently used first out, bounded in bytes.

    A version-resolved answer never changes, so its bytes are built once and
    replayed: a repeated request costs a dictionary lookup instead of rebuilding
    models and serializing JSON. Bodies larger than `max_body` are not kept.
    """

    def __init__(self, max_bytes: int = 64 << 20, max_body: int = 1 << 20) -> None:
        super().__init__(max_bytes, len)
        self.max_body = max_body

    def put(self, etag: str, body: bytes) -> None:
        if len(body) <= self.max_body:
            super().put(etag, body)


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
    bodies: BodyCache | None = None

    @classmethod
    def for_request(
        cls,
        request: Request,
        if_none_match: str | None,
        *basis: object,
        cache_control: str = IMMUTABLE,
        bodies: BodyCache | None = None,
    ) -> "Cached":
        query = "&".join(sorted(f"{k}={v}" for k, v in request.query_params.multi_items()))
        key = "\0".join([REPRESENTATION, *map(str, basis), request.url.path, query])
        etag = quote(hashlib.sha256(key.encode()).hexdigest()[:32])
        return cls(etag, if_none_match, cache_control, bodies)

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

    def replay(self, build: Callable[[], BaseModel | object]) -> Response:
        """The answer from the body cache, else `build()` serialized once and kept."""
        body = self.bodies.get(self.etag) if self.bodies is not None else None
        if body is None:
            answer = build()
            if isinstance(answer, BaseModel):
                answer = answer.model_dump(mode="json", by_alias=True)
            body = json.dumps(
                answer, ensure_ascii=False, allow_nan=False, separators=(",", ":")
            ).encode()
            if self.bodies is not None:
                self.bodies.put(self.etag, body)
        return Response(body, media_type="application/json", headers=self.headers)
