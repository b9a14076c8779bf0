"""Mixtures: a version + tokenizer + language weights + token budget, resolved to shards.

A mixture is stored as its definition (`codecorpus_mixtures` in the catalog
database) and resolved on read against the version's immutable shard manifest:
the train shards of each weighted language, its unique tokens (document tokens
without the end-of-document tokens) and the epochs the budget implies. The
epoch plan follows the data-constrained scaling law (`trainer.plan`).
"""

import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow.compute as pc
import sqlalchemy as sa
from pyiceberg.expressions import And, EqualTo

from corpus.core.errors import CodecorpusError, ConfigError
from corpus.store.catalog import SHARDS, Catalog
from corpus.store.sql import MIXTURES, engine
from corpus.store.versions import Registry


class MixtureNotFound(CodecorpusError, LookupError):
    """No mixture has this id."""


@dataclass
class Component:
    lang: str
    weight: float
    unique_tokens: int
    tokens: int
    epochs: float
    shards: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Mixture:
    id: str
    dataset: str
    version: str
    tokenizer: str
    weights: dict[str, float]
    token_budget: int
    components: list[Component] = field(default_factory=list)
    plan: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _engine(catalog: Catalog) -> sa.Engine:
    return engine(catalog.settings)


def create_mixture(
    catalog: Catalog,
    dataset: str,
    version: str,
    weights: dict[str, float],
    token_budget: int,
    tokenizer: str | None = None,
) -> Mixture:
    """Validate and store a mixture; returns it resolved."""
    if not weights or any(not w > 0 for w in weights.values()):
        raise ConfigError("mixture weights must map languages to positive numbers")
    if token_budget <= 0:
        raise ConfigError(f"token_budget must be positive, got {token_budget}")
    found = Registry(catalog, dataset).get(version)
    sha = tokenizer or found.lineage.get("tokenizer")
    if not sha:
        raise ConfigError(f"version {version!r} has no tokenizer; give one explicitly")
    mixture = Mixture(
        uuid.uuid4().hex, dataset, version, sha, dict(sorted(weights.items())), int(token_budget)
    )
    _resolve(catalog, mixture)  # refuse a mixture whose languages have no shards
    with _engine(catalog).begin() as db:
        db.execute(
            MIXTURES.insert().values(
                id=mixture.id,
                dataset=dataset,
                version=version,
                tokenizer=mixture.tokenizer,
                weights=json.dumps(mixture.weights),
                token_budget=mixture.token_budget,
                created_at=datetime.now(UTC),
            )
        )
    return mixture


def get_mixture(catalog: Catalog, mixture_id: str) -> Mixture:
    with _engine(catalog).connect() as db:
        row = db.execute(MIXTURES.select().where(MIXTURES.c.id == mixture_id)).mappings().first()
    if row is None:
        raise MixtureNotFound(f"no mixture {mixture_id!r}")
    mixture = Mixture(
        row["id"],
        row["dataset"],
        row["version"],
        row["tokenizer"],
        json.loads(row["weights"]),
        row["token_budget"],
    )
    return _resolve(catalog, mixture)


def _resolve(catalog: Catalog, mixture: Mixture) -> Mixture:
    """Attach the train shards, unique tokens and epochs of each component, and the plan."""
    table = catalog.table(mixture.dataset, SHARDS)
    rows = table.scan(
        row_filter=And(EqualTo("version", mixture.version), EqualTo("tokenizer", mixture.tokenizer))
    ).to_arrow()
    rows = rows.filter(pc.equal(rows["split"], "train")).sort_by("prefix")
    by_lang: dict[str, list[dict[str, Any]]] = {}
    for row in rows.to_pylist():
        by_lang.setdefault(row["lang"], []).append(row)
    missing = sorted(set(mixture.weights) - set(by_lang))
    if missing:
        raise ConfigError(
            f"no train shards for {missing} in {mixture.dataset}@{mixture.version} with "
            f"tokenizer {mixture.tokenizer[:12]}; languages with shards: {sorted(by_lang)}"
        )
    total = sum(mixture.weights.values())
    unique = {}
    mixture.components = []
    for lang, weight in mixture.weights.items():
        shards = by_lang[lang]
        unique[lang] = sum(s["tokens"] - s["documents"] for s in shards)
        tokens = round(mixture.token_budget * weight / total)
        mixture.components.append(
            Component(
                lang,
                weight / total,
                unique[lang],
                tokens,
                tokens / unique[lang] if unique[lang] else float("inf"),
                [_public(s) for s in shards],
            )
        )
    from trainer.plan import plan_mixture  # the planner, imported only when used

    mixture.plan = plan_mixture(unique, mixture.weights, tokens=mixture.token_budget).to_dict()
    return mixture


def unique_tokens(
    catalog: Catalog, dataset: str, version: str, tokenizer: str | None = None
) -> dict[str, int]:
    """Unique train tokens per language of a version's shards (EOD tokens excluded)."""
    found = Registry(catalog, dataset).get(version)
    sha = tokenizer or found.lineage.get("tokenizer")
    if not sha:
        raise ConfigError(f"version {version!r} has no tokenizer; give one explicitly")
    rows = (
        catalog.table(dataset, SHARDS)
        .scan(row_filter=And(EqualTo("version", version), EqualTo("tokenizer", sha)))
        .to_arrow()
    )
    unique: dict[str, int] = {}
    for row in rows.filter(pc.equal(rows["split"], "train")).to_pylist():
        unique[row["lang"]] = unique.get(row["lang"], 0) + row["tokens"] - row["documents"]
    return dict(sorted(unique.items()))


def _public(shard: dict[str, Any]) -> dict[str, Any]:
    keys = ("prefix", "bin_sha256", "idx_sha256", "bin_bytes", "tokens", "documents", "dtype")
    return {k: shard[k] for k in keys}
