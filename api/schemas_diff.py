"""Public schemas of a diff between two versions (`GET /v1/datasets/{ds}/diff`)."""

from typing import Any

from pydantic import Field

from api.schemas import Counts, Schema


class DiffVersion(Schema):
    name: str
    created_at: str
    files: int
    kept_files: int
    kept_bytes: int
    tokens: int | None


class Kept(Schema):
    files: int
    bytes: int
    tokens: int | None


class KeptPair(Schema):
    a: Kept
    b: Kept
    delta: Kept


class ChangedCounts(Counts):
    bytes_delta: int


class TransitionCounts(Schema):
    kept_to_dropped: int
    dropped_to_kept: int
    reason_changed: int


class DiffSummary(Schema):
    added: Counts
    removed: Counts
    changed: ChangedCounts
    unchanged: Counts
    kept: KeptPair
    transitions: TransitionCounts


class LanguageDiff(Schema):
    added: Counts
    removed: Counts
    changed: Counts
    unchanged: Counts
    kept: KeptPair


class LineageChange(Schema):
    a: Any
    b: Any
    changed: bool


class ReasonDiff(Schema):
    added: dict[str, Counts] = Field(description="B's decision on added files ('kept': none)")
    removed: dict[str, Counts] = Field(description="A's decision on removed files")


class Transition(Schema):
    from_: str | None = Field(alias="from", description="A's drop reason; null: kept")
    to: str | None = Field(description="B's drop reason; null: kept")
    files: int
    bytes: int


class VersionDiff(Schema):
    """What changed from version `a` to version `b` (see corpus.store.diff)."""

    dataset: str
    a: DiffVersion
    b: DiffVersion
    identical: bool
    lineage: dict[str, LineageChange]
    summary: DiffSummary
    languages: dict[str, LanguageDiff]
    reasons: ReasonDiff
    transitions: list[Transition]
