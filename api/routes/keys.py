"""API keys over HTTP, for admins (the CLI `codecorpus keys` does the same locally)."""

from typing import Annotated

from fastapi import APIRouter, Path

from api.auth import AdminAccess
from api.deps import StateDep
from api.keys import ApiKey
from api.responses import AUTH, problems
from api.schemas_keys import ApiKeyCreate, ApiKeyCreated, ApiKeyInfo, ApiKeyList

router = APIRouter(prefix="/keys", tags=["keys"], responses=AUTH)


def info(key: ApiKey) -> ApiKeyInfo:
    return ApiKeyInfo(
        id=key.id,
        name=key.name,
        scopes=list(key.scopes),
        created_at=key.created_at,
        revoked_at=key.revoked_at,
    )


@router.get("", response_model=ApiKeyList, operation_id="list_keys")
def list_keys(_: AdminAccess, state: StateDep) -> ApiKeyList:
    """Every key, revoked ones included (never their tokens: only hashes are stored)."""
    return ApiKeyList(keys=[info(k) for k in state.keys.list()])


@router.post(
    "", response_model=ApiKeyCreated, status_code=201, responses=problems(400),
    operation_id="create_key",
)  # fmt: skip
def create_key(_: AdminAccess, body: ApiKeyCreate, state: StateDep) -> ApiKeyCreated:
    """A new key; its token is in this answer only."""
    key, token = state.keys.create(body.name, body.scopes)
    return ApiKeyCreated(**info(key).model_dump(), token=token)


@router.delete(
    "/{key_id}", response_model=ApiKeyInfo, responses=problems(404), operation_id="revoke_key"
)
def revoke_key(
    _: AdminAccess,
    key_id: Annotated[str, Path(max_length=64, description="Key id (GET /v1/keys)")],
    state: StateDep,
) -> ApiKeyInfo:
    """Revoke a key: requests with it are refused from now on (idempotent)."""
    return info(state.keys.revoke(key_id))
