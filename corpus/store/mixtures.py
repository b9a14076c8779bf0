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
from pathlib import Path
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
    sha = tokenizer or found.lineage.tokenizer
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
    sha = tokenizer or found.lineage.tokenizer
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


@dataclass(frozen=True)
class TrainingInputs:
    """What a training run (`codecorpus train`, `codecorpus sweep`) needs of a stored mixture:
    the mixture resolved, its tokenizer's vocabulary size, the data-loader spec of its train
    shards and the validation shard prefixes of its languages."""

    mixture: Mixture
    vocab_size: int
    """Pieces of the mixture's tokenizer: the model's embedding rows."""
    spec: Any
    """`trainer.data.MixtureSpec` over the train shards, windows of `seq_len` tokens."""
    validation: dict[str, list[str]]
    """Validation shard prefixes per language of the mixture; a language without
    validation shards is absent (its validation loss cannot be measured)."""

    @property
    def unvalidated(self) -> list[str]:
        """The mixture's languages without validation shards."""
        return sorted(set(self.mixture.weights) - set(self.validation))


def training_inputs(
    catalog: Catalog,
    mixture_id: str,
    seq_len: int,
    *,
    dataset: str | None = None,
    version: str | None = None,
    seed: int = 0,
    shard_root: str | Path | None = None,
    verify: bool = False,
) -> TrainingInputs:
    """Resolve a stored mixture for training. `dataset`/`version`: what the caller was told the
    mixture is over (a mismatch is a ConfigError). `shard_root`: a folder the version's shards
    were pulled into (prefixes are looked up there by file name). `verify`: hash every train
    shard against the version's manifest."""
    from tokenizer.model import CodeTokenizer
    from tokenizer.store import TokenizerStore
    from trainer.data import MixtureSpec

    mixture = get_mixture(catalog, mixture_id)
    expected = (dataset or mixture.dataset, version or mixture.version)
    if (mixture.dataset, mixture.version) != expected:
        raise ConfigError(
            f"mixture {mixture_id} is over {mixture.dataset}@{mixture.version}, "
            f"not {expected[0]}@{expected[1]}"
        )
    store = TokenizerStore(catalog.settings.resolved_warehouse())
    vocab_size = CodeTokenizer(store.load(mixture.tokenizer)).vocab_size
    spec = MixtureSpec.from_mixture(mixture, seq_len, seed, shard_root=shard_root, verify=verify)
    return TrainingInputs(mixture, vocab_size, spec, _validation(catalog, mixture, shard_root))


def _validation(
    catalog: Catalog, mixture: Mixture, shard_root: str | Path | None
) -> dict[str, list[str]]:
    """Validation shard prefixes of the mixture's languages (its version and tokenizer)."""
    where = And(EqualTo("version", mixture.version), EqualTo("tokenizer", mixture.tokenizer))
    rows = catalog.table(mixture.dataset, SHARDS).scan(row_filter=where).to_arrow()
    rows = rows.filter(pc.equal(rows["split"], "validation")).sort_by("prefix")
    prefixes: dict[str, list[str]] = {}
    for row in rows.to_pylist():
        if row["lang"] in mixture.weights:
            prefix = str(row["prefix"])
            if shard_root is not None:
                prefix = str(Path(shard_root) / Path(prefix).name)
            prefixes.setdefault(row["lang"], []).append(prefix)
    return prefixes
