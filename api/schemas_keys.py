"""Public schemas of API keys (`/v1/keys`): the secret appears only when a key is created."""

from datetime import datetime

from pydantic import Field

from api.keys import Scope
from api.schemas import Schema


class ApiKeyInfo(Schema):
    id: str
    name: str
    scopes: list[Scope]
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyInfo):
    token: str = Field(description="The secret; shown only in this response")


class ApiKeyList(Schema):
    keys: list[ApiKeyInfo]


class ApiKeyCreate(Schema):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[Scope] = Field(min_length=1)
