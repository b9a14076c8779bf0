"""Public response schemas: what clients see, independent of the catalog's tables.

Internal details (warehouse paths, source URIs, ingest ids) never appear here.
"""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from corpus.store import version_stats as stored
from corpus.store.versions import Version


class Schema(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


# --- errors (RFC 9457) ---------------------------------------------------------------------


class Problem(Schema):
    """An error, as `application/problem+json` (RFC 9457)."""

    type: str = Field(description="URI naming the kind of problem, urn:codecorpus:problem:<kind>")
    title: str = Field(description="Short summary of the kind of problem")
    status: int = Field(description="The HTTP status code")
    detail: str = Field(description="What went wrong with this request and what to do")
    instance: str = Field(description="The path (and query) of the request")


class ValidationIssue(Schema):
    location: list[str] = Field(description="Where: e.g. ['query', 'limit']")
    message: str
    type: str


class ValidationProblem(Problem):
    """A request that did not validate (422), with every offending parameter."""

    errors: list[ValidationIssue]


# --- service -------------------------------------------------------------------------------


class Health(Schema):
    status: Literal["ok"] = "ok"


class Readiness(Schema):
    status: Literal["ready"] = "ready"
    datasets: int = Field(description="Datasets in the catalog")


# --- datasets and versions ------------------------------------------------------------------


class DatasetSummary(Schema):
    name: str
    versions: int = Field(description="Published versions")
    latest_version: str | None = Field(description="Name of the newest version, if any")


class DatasetList(Schema):
    datasets: list[DatasetSummary]


class VersionSummary(Schema):
    name: str
    created_at: datetime
    config_fingerprint: str
    files: int = Field(description="Every file of the version, kept or dropped")
    kept_files: int
    kept_bytes: int
    tokens: int | None = Field(description="Tokens of the kept files; null when not counted")
    tokenizer: str | None = Field(description="sha256 of the version's tokenizer")

    @classmethod
    def of(cls, version: Version) -> "VersionSummary":
        stats = version.stats
        return cls(
            name=version.name,
            created_at=version.created_at,
            config_fingerprint=version.config_fingerprint,
            files=stats.files,
            kept_files=stats.kept_files,
            kept_bytes=stats.kept_bytes,
            tokens=stats.tokens,
            tokenizer=version.lineage.tokenizer,
        )


class VersionList(Schema):
    dataset: str
    versions: list[VersionSummary] = Field(description="Oldest first")


class Lineage(Schema):
    raw_snapshot_id: int = Field(description="Snapshot of <ds>.raw the version was curated from")
    decisions_snapshot_id: int
    files_snapshot_id: int
    shards_snapshot_id: int | None
    minhash_snapshot_id: int | None
    config_fingerprint: str
    code_version: str
    stages: list[str]
    tokenizer: str | None
    dedup_against: str | None = Field(description="Version whose MinHash signatures were reused")
    opt_out_revision: int | None
    opt_out_entries: int | None
    spdx_license_list: str | None

    @classmethod
    def of(cls, version: Version) -> "Lineage":
        lin = version.lineage
        return cls(
            raw_snapshot_id=version.raw_snapshot_id,
            decisions_snapshot_id=version.decisions_snapshot_id,
            files_snapshot_id=version.files_snapshot_id,
            shards_snapshot_id=lin.shards_snapshot_id,
            minhash_snapshot_id=lin.minhash_snapshot_id,
            config_fingerprint=version.config_fingerprint,
            code_version=version.code_version,
            stages=list(lin.stages),
            tokenizer=lin.tokenizer,
            dedup_against=lin.dedup_against,
            opt_out_revision=lin.opt_out_revision,
            opt_out_entries=lin.opt_out_entries,
            spdx_license_list=lin.spdx_license_list,
        )


class LanguageTotals(Schema):
    files: int
    bytes: int
    tokens: int | None = None
    chars_per_token: float | None = None


class Counts(Schema):
    files: int
    bytes: int


class DedupSummary(Schema):
    exact_removed: int
    near_removed: int
    near_clusters: int
    candidates: int

    @classmethod
    def of(cls, dedup: stored.DedupStats) -> "DedupSummary":
        return cls(
            exact_removed=dedup.exact_removed,
            near_removed=dedup.near_removed,
            near_clusters=dedup.near_clusters,
            candidates=dedup.candidates or 0,
        )


class ShardsSummary(Schema):
    count: int
    train_tokens: int = 0
    train_documents: int = 0
    validation_tokens: int = 0
    validation_documents: int = 0

    @classmethod
    def of(cls, shards: stored.ShardStats) -> "ShardsSummary":
        return cls.model_validate(shards.to_dict())


class GovernanceSummary(Schema):
    pii_mode: str = Field(description="redact, drop or off")
    pii: dict[str, int] = Field(description="Spans found per kind (email, ip_address, key, ...)")
    pii_files: int = Field(description="Files that held any")
    decontam: dict[str, int] = Field(description="Files dropped per benchmark")

    @classmethod
    def of(cls, stats: stored.GovernanceStats) -> "GovernanceSummary":
        return cls(pii_mode=stats.pii_mode, pii=stats.pii, pii_files=stats.pii_files,
                   decontam=stats.decontam)  # fmt: skip


class StatsSummary(Schema):
    files: int
    bytes: int
    kept_files: int
    kept_bytes: int
    stripped_bytes: int = Field(description="Bytes formatters removed from kept files")
    tokens: int | None
    languages: dict[str, LanguageTotals] = Field(description="Kept files per language")
    drop_reasons: dict[str, Counts] = Field(description="Dropped files per reason")
    dedup: DedupSummary | None
    shards: ShardsSummary | None
    governance: GovernanceSummary | None = Field(
        None, description="PII and decontamination; null for versions published before them"
    )

    @classmethod
    def of(cls, stats: stored.VersionStats) -> "StatsSummary":
        return cls(
            files=stats.files,
            bytes=stats.bytes,
            kept_files=stats.kept_files,
            kept_bytes=stats.kept_bytes,
            stripped_bytes=stats.stripped_bytes,
            tokens=stats.tokens,
            languages={
                lang: LanguageTotals(
                    files=e.files, bytes=e.bytes, tokens=e.tokens, chars_per_token=e.chars_per_token
                )
                for lang, e in stats.languages.items()
            },
            drop_reasons={
                reason: Counts(files=e.files, bytes=e.bytes)
                for reason, e in stats.drop_reasons.items()
            },
            dedup=DedupSummary.of(stats.dedup) if stats.dedup else None,
            shards=ShardsSummary.of(stats.shards) if stats.shards else None,
            governance=GovernanceSummary.of(stats.governance) if stats.governance else None,
        )


class VersionDetail(Schema):
    dataset: str
    name: str
    created_at: datetime
    lineage: Lineage
    config: dict[str, Any] = Field(description="The curation config the version was made with")
    stats: StatsSummary


class StatsRow(Schema):
    """One group. `lang`/`drop_reason`/`kept` are present when grouped by them."""

    lang: str | None = Field(default=None, description="'unknown' for unidentified files")
    drop_reason: str | None = Field(default=None, description="null: kept")
    kept: bool | None = None
    files: int
    bytes: int
    kept_files: int | None = Field(default=None, description="When grouped by lang only")
    kept_bytes: int | None = Field(default=None, description="When grouped by lang only")
    tokens: int | None = Field(default=None, description="Tokens of the kept files of the group")
    chars_per_token: float | None = None

    @classmethod
    def grouped(cls, stats: stored.VersionStats, by: list[str]) -> list["StatsRow"]:
        """The rows of a version's stats grouped by `lang`, `drop_reason` or both (the fields
        set are those of the grouping: a client sees only what applies)."""
        if by == ["lang", "drop_reason"]:
            return [
                cls(
                    lang=r.lang,
                    drop_reason=r.drop_reason,
                    kept=r.kept,
                    files=r.files,
                    bytes=r.bytes,
                    **(_tokens(stats, r.language) if r.kept else {}),
                )
                for r in stats.by_language_and_reason()
            ]
        if by == ["lang"]:
            return [
                cls(
                    lang=g.lang,
                    files=g.files,
                    bytes=g.bytes,
                    kept_files=g.kept_files,
                    kept_bytes=g.kept_bytes,
                    **_tokens(stats, g.lang),
                )
                for g in stats.by_language()
            ]
        return [
            cls(
                drop_reason=g.drop_reason,
                kept=g.drop_reason is None,
                files=g.files,
                bytes=g.bytes,
                **({"tokens": stats.tokens} if g.drop_reason is None else {}),
            )
            for g in stats.by_reason()
        ]


def _tokens(stats: stored.VersionStats, lang: str) -> dict[str, Any]:
    entry = stats.languages.get(lang)
    if entry is None:
        return {"tokens": None, "chars_per_token": None}
    return {"tokens": entry.tokens, "chars_per_token": entry.chars_per_token}


class StatsTotals(Schema):
    files: int
    bytes: int
    kept_files: int
    kept_bytes: int
    tokens: int | None
    governance: GovernanceSummary | None = Field(
        None, description="PII spans per kind and files dropped per benchmark"
    )

    @classmethod
    def of(cls, stats: stored.VersionStats) -> "StatsTotals":
        return cls(
            files=stats.files,
            bytes=stats.bytes,
            kept_files=stats.kept_files,
            kept_bytes=stats.kept_bytes,
            tokens=stats.tokens,
            governance=GovernanceSummary.of(stats.governance) if stats.governance else None,
        )


class VersionStats(Schema):
    dataset: str
    version: str
    group_by: list[Literal["lang", "drop_reason"]]
    totals: StatsTotals
    rows: list[StatsRow]


# --- files ----------------------------------------------------------------------------------


class FileSummary(Schema):
    file_id: str = Field(description="32 hex chars, stable for a repo + path")
    repo: str
    path: str
    lang: str | None
    size: int = Field(description="Bytes at the source")
    license: str | None = Field(description="SPDX expression")
    license_class: str | None = Field(description="permissive, non_permissive, no_license, ...")
    kept: bool
    drop_reason: str | None
    dup_of: str | None = Field(description="file_id of the kept copy, for duplicates")
    dup_cluster: str | None
    tokens: int | None = Field(description="Tokens of a kept file with the version's tokenizer")
    content_sha256: str | None
    content: str | None = Field(
        default=None, description="Only with content=true, and only kept files have it"
    )


class FilePage(Schema):
    dataset: str
    version: str
    files: list[FileSummary] = Field(description="Ordered by file_id")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: last")


class FileDetail(FileSummary):
    extension: str | None
    encoding: str | None
    stars: int | None
    forks: int | None
    revision_date: datetime | None
    source_licenses: list[str] | None
    spdx_header: str | None
    license_source: str | None
    license_score: float | None
    is_generated: bool
    is_vendor: bool
    formatter: str | None
    stripped_bytes: int | None
    signals: dict[str, float | int | bool | str | None] = Field(
        description="Quality signals the heuristics computed for the file"
    )


# --- shards ---------------------------------------------------------------------------------


class ShardFile(Schema):
    sha256: str
    bytes: int
    url: str = Field(description="Download path (supports Range; ETag is the sha256)")


class Shard(Schema):
    shard_id: str = Field(description="16 hex chars, stable: derived from the files' sha256s")
    lang: str
    split: str
    tokenizer: str
    dtype: str
    tokens: int
    documents: int
    bin: ShardFile
    idx: ShardFile


class ShardList(Schema):
    dataset: str
    version: str
    shards: list[Shard]
    tokens: int = Field(description="Tokens of the listed shards")
    documents: int
