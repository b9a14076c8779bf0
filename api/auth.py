"""Who is calling: an API key from `Authorization: Bearer <token>` or `X-API-Key: <token>`.

No key: 401 unless the route reads and anonymous reads are on. An unknown or
revoked key: 401 (never treated as anonymous). A key without the scope: 403.
"""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from api.keys import ApiKey, Scope
from api.problems import Problem
from api.state import AppState

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An API key: `Authorization: Bearer cck_...` (`codecorpus keys create`)",
)
api_key_scheme = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="apiKey",
    description="The same API key in an `X-API-Key` header",
)
CHALLENGE = 'Bearer realm="codecorpus"'


@dataclass(frozen=True)
class Principal:
    """The caller: an API key, or None for an anonymous reader."""

    key: ApiKey | None

    @property
    def anonymous(self) -> bool:
        return self.key is None


def _unauthorized(detail: str, error: str | None = None) -> Problem:
    challenge = CHALLENGE + (f', error="{error}"' if error else "")
    return Problem(401, "unauthorized", detail, headers={"WWW-Authenticate": challenge})


async def authenticate(state: AppState, token: str | None) -> ApiKey | None:
    """The key a token belongs to, or None when the request presents no token."""
    if not token:
        return None
    key = state.keys.remembered(token)
    if key is None:
        key = await run_in_threadpool(state.keys.verify, token)  # a catalog query
    if key is None:
        raise _unauthorized(
            "the API key is not valid: check that it was copied whole "
            "(`codecorpus keys list` shows the keys that exist)",
            "invalid_token",
        )
    if not key.active:
        raise _unauthorized(
            f"API key {key.id} was revoked at {key.revoked_at:%Y-%m-%d %H:%M:%S} UTC; "
            "ask an admin for a new one (`codecorpus keys create`)",
            "invalid_token",
        )
    return key


def require(scope: Scope):
    """A dependency that admits callers holding `scope` (or, for reads, anyone if allowed).

    One dependency per route, reading the app state from the request: every
    dependency costs FastAPI tens of microseconds to solve, on every request.
    The two security schemes stay as sub-dependencies so OpenAPI documents them.
    """

    async def dependency(
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
        header: Annotated[str | None, Depends(api_key_scheme)],
    ) -> Principal:
        state: AppState = request.app.state.codecorpus
        key = await authenticate(state, bearer.credentials if bearer is not None else header)
        if key is None:
            if scope is Scope.READ and state.settings.anonymous_read:
                return Principal(None)
            raise _unauthorized(
                f"this route needs an API key with the {scope} scope: send "
                "`Authorization: Bearer <token>` or `X-API-Key: <token>`; an admin creates "
                f"one with `codecorpus keys create NAME --scope {scope}`"
            )
        if scope not in key.granted:
            raise Problem(
                403,
                "insufficient-scope",
                f"API key {key.id} has scopes {', '.join(key.scopes)}; this route needs "
                f"{scope}: ask an admin for a key with `--scope {scope}`",
            )
        return Principal(key)

    dependency.__name__ = f"require_{scope}"
    return dependency


ReadAccess = Annotated[Principal, Depends(require(Scope.READ))]
WriteAccess = Annotated[Principal, Depends(require(Scope.WRITE))]
AdminAccess = Annotated[Principal, Depends(require(Scope.ADMIN))]
