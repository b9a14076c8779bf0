"""API keys: random tokens shown once, stored as sha256 hashes in the catalog database.

A token reads `cck_<id>_<secret>`: `id` (12 hex digits) is public and names the row,
`secret` is 32 random bytes (base64url). The row keeps only sha256(token); a
presented token is hashed and compared with the stored hash in constant time, so
neither a database dump nor response timing gives a usable token away.

Scopes nest: `admin` includes `write`, which includes `read`.
"""

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from corpus.core.errors import CodecorpusError, ConfigError
from corpus.core.settings import Settings
from corpus.store.sql import API_KEYS, MAX_API_KEY_NAME, engine

TOKEN_PREFIX = "cck_"
TOKEN = re.compile(r"^cck_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
MAX_NAME = MAX_API_KEY_NAME
MAX_REMEMBERED = 10_000


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"
    LOOKUP = "lookup"
    """Near-duplicate lookups only ("is my code in the corpus?"): no listings, no content."""

    def implies(self) -> frozenset["Scope"]:
        """The scopes a key with this scope holds (read < write < admin; lookup stands alone,
        and the lookup routes also admit read)."""
        if self is Scope.LOOKUP:
            return frozenset({self})
        order = [Scope.READ, Scope.WRITE, Scope.ADMIN]
        return frozenset(order[: order.index(self) + 1])


class KeyNotFound(CodecorpusError, LookupError):
    """No API key has that id."""


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    scopes: tuple[Scope, ...]
    created_at: datetime
    revoked_at: datetime | None

    @property
    def granted(self) -> frozenset[Scope]:
        return frozenset().union(*(s.implies() for s in self.scopes))

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_scopes(values: list[str]) -> tuple[Scope, ...]:
    unknown = [v for v in values if v not in {s.value for s in Scope}]
    if unknown or not values:
        raise ConfigError(
            f"scopes {unknown or values} are invalid: give one or more of "
            f"{', '.join(s.value for s in Scope)}"
        )
    return tuple(sorted({Scope(v) for v in values}, key=list(Scope).index))


class KeyStore:
    """The `codecorpus_api_keys` table, created on first use."""

    def __init__(self, settings: Settings, remember_seconds: float = 0.0) -> None:
        self.settings = settings
        self._engine: Engine | None = None
        self.remember_seconds = remember_seconds
        # token hash -> (when verified, key): a service verifies the same few keys on every
        # request; remembering them spares a catalog query each time
        self._verified: dict[str, tuple[float, ApiKey]] = {}

    @property
    def engine(self) -> Engine:
        if self._engine is None:  # on first use: `import api` opens no database
            self._engine = engine(self.settings)
        return self._engine

    def create(self, name: str, scopes: list[str] | tuple[Scope, ...]) -> tuple[ApiKey, str]:
        """A new key and its token; the token is not stored and cannot be shown again."""
        name = name.strip()
        if not name or len(name) > MAX_NAME:
            raise ConfigError(f"key name must be 1 to {MAX_NAME} characters, got {name!r}")
        parsed = parse_scopes([str(s) for s in scopes])
        key_id = secrets.token_hex(6)
        token = f"{TOKEN_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        key = ApiKey(key_id, name, parsed, datetime.now(UTC), None)
        with self.engine.begin() as conn:
            conn.execute(
                API_KEYS.insert().values(
                    id=key.id,
                    name=key.name,
                    hash=hash_token(token),
                    scopes=",".join(parsed),
                    created_at=key.created_at,
                )
            )
        return key, token

    def list(self) -> list[ApiKey]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(API_KEYS).order_by(API_KEYS.c.created_at, API_KEYS.c.id))
            return [_key(row) for row in rows.mappings()]

    def get(self, key_id: str) -> ApiKey:
        with self.engine.connect() as conn:
            row = conn.execute(select(API_KEYS).where(API_KEYS.c.id == key_id)).mappings().first()
        if row is None:
            raise KeyNotFound(f"no API key {key_id!r}; `codecorpus keys list` shows the ids")
        return _key(row)

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key (idempotent: revoking twice keeps the first time)."""
        self._verified = {h: v for h, v in self._verified.items() if v[1].id != key_id}
        key = self.get(key_id)
        if key.revoked_at is None:
            now = datetime.now(UTC)
            with self.engine.begin() as conn:
                conn.execute(
                    update(API_KEYS)
                    .where(API_KEYS.c.id == key_id, API_KEYS.c.revoked_at.is_(None))
                    .values(revoked_at=now)
                )
            key = self.get(key_id)
        return key

    def verify(self, token: str) -> ApiKey | None:
        """The key a token belongs to (revoked or not), or None for an unknown token.

        A key verified less than `remember_seconds` ago is answered from memory, so
        a revocation made elsewhere (another process) takes effect within that time;
        one made through this store takes effect at once.
        """
        if (key := self.remembered(token)) is not None:
            return key
        presented = hash_token(token.strip())
        key = self._lookup(token, presented)
        if key is not None and self.remember_seconds > 0:
            if len(self._verified) >= MAX_REMEMBERED:
                self._verified.clear()
            self._verified[presented] = (time.monotonic(), key)
        return key

    def remembered(self, token: str) -> ApiKey | None:
        """The key if it was verified less than `remember_seconds` ago: no I/O."""
        if self.remember_seconds <= 0:
            return None
        remembered = self._verified.get(hash_token(token.strip()))
        if remembered is not None and time.monotonic() - remembered[0] < self.remember_seconds:
            return remembered[1]
        return None

    def _lookup(self, token: str, presented: str) -> ApiKey | None:
        match = TOKEN.match(token.strip())
        row = None
        if match is not None:
            with self.engine.connect() as conn:
                row = (
                    conn.execute(select(API_KEYS).where(API_KEYS.c.id == match.group(1)))
                    .mappings()
                    .first()
                )
        stored = row["hash"] if row is not None else "0" * 64
        # compare even when no row matched, so timing does not tell ids apart
        if not hmac.compare_digest(stored.encode(), presented.encode()) or row is None:
            return None
        return _key(row)


def _key(row) -> ApiKey:
    return ApiKey(
        id=row["id"],
        name=row["name"],
        scopes=tuple(Scope(s) for s in row["scopes"].split(",") if s),
        created_at=_utc(row["created_at"]),
        revoked_at=_utc(row["revoked_at"]),
    )


def _utc(value: datetime | None) -> datetime | None:
    """SQLite hands timestamps back without a zone; they were written in UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
