"""The Python API for notebooks and scripts: catalogs, datasets, versions, reads, runs.

Every function takes the catalog as the keyword `catalog` (default: the one `Settings` reads
from the environment, `CODECORPUS_HOME` or `./.codecorpus`) and returns plain objects:
`Version`, `Mixture`, reports, Arrow tables or polars frames. Nothing here renders; the CLI
does that. Bad input raises a `corpus.core.errors.CodecorpusError` saying what to fix.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from corpus.core.errors import ConfigError
from corpus.core.settings import Settings

if TYPE_CHECKING:  # heavy: pyiceberg, pyarrow, polars, Ray come with the call that needs them
    import polars as pl
    import pyarrow as pa
    from pyiceberg.expressions import BooleanExpression
    from pyiceberg.table import DataScan

    from corpus.pipeline.config import CurationConfig
    from corpus.pipeline.curate import CurateReport
    from corpus.pipeline.ingest import IngestReport
    from corpus.store.catalog import Catalog
    from corpus.store.mixtures import Mixture
    from corpus.store.versions import Version


def open_catalog(home: str | Path | Settings | None = None) -> Catalog:
    """The catalog under `home` (a folder: SQLite catalog + warehouse), of `Settings`, or, by
    default, the one the environment configures (CODECORPUS_HOME, CODECORPUS_CATALOG_URI...)."""
    from corpus.store.catalog import Catalog

    if isinstance(home, Settings):
        return Catalog(home)
    if home is None:
        return Catalog(Settings())
    if not isinstance(home, str | Path):
        raise ConfigError(f"open_catalog takes a folder or Settings, got {type(home).__name__}")
    return Catalog(Settings(home=Path(home).expanduser().absolute()))  # a notebook may chdir


def list_datasets(*, catalog: Catalog | None = None) -> list[str]:
    """Names of the catalog's datasets, sorted."""
    return _catalog(catalog).datasets()


def list_versions(dataset: str, *, catalog: Catalog | None = None) -> list[Version]:
    """Published versions of `dataset`, oldest first (empty before the first curate)."""
    from corpus.store.versions import Registry

    catalog = _catalog(catalog)
    if dataset not in catalog.datasets():
        raise _no_dataset(catalog, dataset)
    return Registry(catalog, dataset).list()


def get_version(dataset: str, version: str, *, catalog: Catalog | None = None) -> Version:
    """One version: snapshot ids, config, `.stats` and `.lineage`."""
    from corpus.store.versions import Registry

    return Registry(_catalog(catalog), dataset).get(version)


def version_stats(dataset: str, version: str, *, catalog: Catalog | None = None) -> Any:
    """The statistics recorded when the version was published (files, bytes, tokens per
    language; files and bytes per drop reason; dedup)."""
    return get_version(dataset, version, catalog=catalog).stats


def read_files(
    dataset: str,
    version: str,
    *,
    languages: Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
    filter: str | BooleanExpression | None = None,
    limit: int | None = None,
    as_polars: bool = False,
    catalog: Catalog | None = None,
) -> pa.Table | pl.DataFrame:
    """The version's kept files, with content, as Arrow (or polars with `as_polars`).

    `languages` keeps those languages (names matched ignoring case; "unknown" for files
    without one); `columns` projects; `filter` is a pyiceberg row filter, as a string
    (`"bytes > 1000 and path like 'src/%'"`) or an expression; all are pushed into the scan.
    """
    from corpus.store.catalog import FILES

    return _read(dataset, version, FILES, languages, columns, filter, limit, as_polars, catalog)


def read_decisions(
    dataset: str,
    version: str,
    *,
    languages: Sequence[str] | None = None,
    drop_reason: str | Iterable[str] | None = None,
    kept: bool | None = None,
    columns: Sequence[str] | None = None,
    filter: str | BooleanExpression | None = None,
    limit: int | None = None,
    as_polars: bool = False,
    catalog: Catalog | None = None,
) -> pa.Table | pl.DataFrame:
    """Every file of the version (no content): ids, repo, path, language, license, signals,
    `drop_reason`. `drop_reason` keeps files dropped for these reasons (`"dedup:near"`) or by
    these stages (`"quality"`); `kept=True` only kept files, `kept=False` only dropped ones;
    the other arguments are those of `read_files`."""
    from pyiceberg.expressions import And, IsNull, NotNull

    from corpus.store.catalog import DECISIONS

    condition = _parse_filter(filter)
    extra = [c for c in (_reason_filter(drop_reason),) if c is not None]
    if kept is not None:
        extra.append(IsNull("drop_reason") if kept else NotNull("drop_reason"))
    for part in extra:
        condition = part if condition is None else And(condition, part)
    return _read(dataset, version, DECISIONS, languages, columns, condition, limit, as_polars,
                 catalog, include_dropped=True)  # fmt: skip


def list_shards(
    dataset: str,
    version: str,
    *,
    language: str | None = None,
    split: str | None = None,
    tokenizer: str | None = None,
    as_polars: bool = False,
    catalog: Catalog | None = None,
) -> pa.Table | pl.DataFrame:
    """The version's token shards (prefix, sha256s, bytes, tokens, documents, language, split,
    tokenizer), sorted by tokenizer, language, split and prefix; empty when it has none."""
    from pyiceberg.expressions import And, EqualTo

    from corpus.pipeline.tokenizer_phase import shards_schema
    from corpus.store.catalog import SHARDS

    catalog = _catalog(catalog)
    get_version(dataset, version, catalog=catalog)  # a clear error for an unknown version
    if split is not None and split not in ("train", "validation"):
        raise ConfigError(f"split must be 'train' or 'validation', got {split!r}")
    condition = EqualTo("version", version)
    for column, value in (("lang", language), ("split", split), ("tokenizer", tokenizer)):
        if value is not None:
            condition = And(condition, EqualTo(column, value))
    if catalog.has_table(dataset, SHARDS):
        rows = catalog.table(dataset, SHARDS).scan(row_filter=condition).to_arrow()
    else:
        rows = shards_schema().empty_table()
    order = [(c, "ascending") for c in ("tokenizer", "lang", "split", "prefix")]
    return _as(rows.sort_by(order), as_polars)


def ingest(
    sources: str | Path | Sequence[str | Path],
    dataset: str,
    *,
    layout: str = "auto",
    columns: dict[str, str] | None = None,
    config: CurationConfig | dict | str | Path | None = None,
    workers: int | None = None,
    ray_address: str | None = None,
    engine: str = "tasks",
    catalog: Catalog | None = None,
) -> IngestReport:
    """Read sources (folders, archives, .parquet/.jsonl, URIs) into `<dataset>.raw`, as
    `codecorpus ingest`; the report has `.added`, `.snapshot_id` and `.summary.tally`."""
    from corpus.core.cluster import RunnerConfig
    from corpus.pipeline.ingest import ingest as run_ingest
    from corpus.sources import Layout

    if isinstance(sources, str | Path):
        sources = [sources]
    try:
        how = Layout(layout)
    except ValueError as exc:
        raise ConfigError(f"layout must be auto, repos or repo, got {layout!r}") from exc
    runner = RunnerConfig(workers=workers, ray_address=ray_address, engine=engine)
    return run_ingest([str(s) for s in sources], dataset, _catalog(catalog), _curation(config),
                      runner, how, columns)  # fmt: skip


def curate(
    dataset: str,
    version: str,
    config: CurationConfig | dict | str | Path | None = None,
    *,
    workers: int | None = None,
    ray_address: str | None = None,
    engine: str = "tasks",
    partitions: int = 8,
    dedup_against: str | None = None,
    catalog: Catalog | None = None,
) -> CurateReport:
    """Curate the latest raw snapshot and publish `version`, as `codecorpus curate`; `config`
    is a CurationConfig, its dict or a YAML path. The report has `.version` and `.dedup`."""
    from corpus.core.cluster import RunnerConfig
    from corpus.pipeline.curate import curate as run_curate

    runner = RunnerConfig(workers=workers, ray_address=ray_address, engine=engine,
                          partitions=partitions)  # fmt: skip
    return run_curate(dataset, version, _catalog(catalog), _curation(config), runner,
                      dedup_against=dedup_against)  # fmt: skip


def create_mixture(
    dataset: str,
    version: str,
    tokens: int | float,
    weights: dict[str, float] | None = None,
    *,
    tokenizer: str | None = None,
    catalog: Catalog | None = None,
) -> Mixture:
    """Store a mixture of the version's train shards with a budget of `tokens`; `weights` per
    language default to every language with shards, weighted by its unique tokens. The result
    has per-language `.components` (epochs, shards) and the scaling-law `.plan`."""
    from corpus.store.mixtures import create_mixture as store_mixture
    from corpus.store.mixtures import unique_tokens

    catalog = _catalog(catalog)
    if weights is None:
        weights = {k: float(v) for k, v in unique_tokens(catalog, dataset, version, tokenizer)
                   .items() if v > 0}  # fmt: skip
    return store_mixture(catalog, dataset, version, weights, int(tokens), tokenizer)


def get_mixture(mixture_id: str, *, catalog: Catalog | None = None) -> Mixture:
    """A stored mixture, resolved against its version's shards."""
    from corpus.store.mixtures import get_mixture as load

    return load(_catalog(catalog), mixture_id)


def train(
    dataset: str,
    version: str,
    mixture: str | Mixture,
    config: dict[str, Any] | str | Path | None = None,
    *,
    nproc: int = 1,
    hostfile: str | Path | None = None,
    seed: int = 0,
    verify: bool = False,
    catalog: Catalog | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Train on a stored mixture, as `codecorpus train`; `config` is a TrainConfig dict or
    YAML path, and keyword `fields` override it (`model="tiny", max_steps=100, run_dir=...`).
    Returns the result: steps, tokens, losses, val_loss, tokens_per_s, run folder files."""
    from corpus.pipeline.train_job import prepare_training, run_training
    from trainer.train_config import read_mapping

    if config is None:
        merged: dict[str, Any] = {}
    elif isinstance(config, dict):
        merged = dict(config)
    else:
        merged = read_mapping(config)
    merged.update(fields)
    mixture_id = mixture if isinstance(mixture, str) else mixture.id
    job = prepare_training(_catalog(catalog), dataset, version, mixture_id, merged, seed, verify)
    return run_training(job, nproc, Path(hostfile) if hostfile is not None else None)


def _catalog(catalog: Catalog | None) -> Catalog:
    return catalog if catalog is not None else open_catalog()


def _no_dataset(catalog: Catalog, dataset: str) -> Exception:
    from corpus.core.errors import DatasetNotFound

    known = ", ".join(catalog.datasets()) or "none"
    return DatasetNotFound(
        f"dataset {dataset!r} does not exist (datasets: {known}); ingest into it first"
    )


def _curation(config: CurationConfig | dict | str | Path | None) -> CurationConfig:
    from corpus.pipeline.config import CurationConfig

    if config is None:
        return CurationConfig()
    if isinstance(config, CurationConfig):
        return config
    if isinstance(config, dict):
        return CurationConfig.from_dict(config)
    if isinstance(config, str | Path):
        return CurationConfig.from_file(config)
    raise ConfigError(
        f"config must be a CurationConfig, a dict or a YAML path, got {type(config).__name__}"
    )


def _read(
    dataset: str,
    version: str,
    table_name: str,
    languages: Sequence[str] | None,
    columns: Sequence[str] | None,
    filter: str | BooleanExpression | None,
    limit: int | None,
    as_polars: bool,
    catalog: Catalog | None,
    include_dropped: bool = False,
) -> pa.Table | pl.DataFrame:
    from corpus.store.export import language_filter, resolve_languages
    from corpus.store.versions import scan_version

    catalog = _catalog(catalog)
    found = get_version(dataset, version, catalog=catalog)
    if isinstance(languages, str):
        languages = [languages]
    scan = scan_version(catalog, dataset, found, table_name)
    selected = resolve_languages(found, list(languages) if languages else None, include_dropped)
    for condition in (language_filter(selected), _parse_filter(filter)):
        if condition is not None:
            scan = scan.filter(condition)
    scan = _project(scan, columns)
    if limit is not None:
        if limit < 0:
            raise ConfigError(f"limit must be >= 0, got {limit}")
        scan = scan.update(limit=limit)
    return _as(scan.to_arrow(), as_polars)


def _parse_filter(value: str | BooleanExpression | None) -> BooleanExpression | None:
    from pyiceberg.expressions import BooleanExpression
    from pyiceberg.expressions.parser import parse
    from pyparsing import ParseException

    if value is None or isinstance(value, BooleanExpression):
        return value
    if not isinstance(value, str):
        raise ConfigError(f"filter must be a string or a pyiceberg expression, not {value!r}")
    try:
        return parse(value)
    except ParseException as exc:
        raise ConfigError(
            f"filter {value!r} is not a row filter (column {exc.col}): write e.g. "
            f'"bytes > 1000 and path like \'src/%\'" or "license is null"'
        ) from exc


def _project(scan: DataScan, columns: Sequence[str] | None) -> DataScan:
    """Check the filter and `columns` against the table schema, then select the columns."""
    from pyiceberg.expressions.visitors import bind

    schema = scan.table_metadata.schema()
    names = [f.name for f in schema.fields]
    try:
        bind(schema, scan.row_filter, case_sensitive=True)
    except ValueError as exc:
        raise ConfigError(f"filter: {exc}; the columns are {', '.join(names)}") from exc
    if columns is None:
        return scan
    if isinstance(columns, str):
        columns = [columns]
    unknown = [c for c in columns if c not in names]
    if unknown:
        raise ConfigError(f"unknown column(s) {unknown}; the columns are {', '.join(names)}")
    return scan.select(*columns)


def _reason_filter(reasons: str | Iterable[str] | None) -> BooleanExpression | None:
    """Files dropped for these reasons; a bare stage name ("quality") means all its reasons."""
    from pyiceberg.expressions import In, Or, StartsWith

    from corpus.core.reasons import DropReason

    if reasons is None:
        return None
    wanted = [reasons] if isinstance(reasons, str) else list(reasons)
    known = {r.value for r in DropReason}
    stages = {r.stage for r in DropReason}
    bad = [r for r in wanted if r not in known and r not in stages]
    if not wanted:
        raise ConfigError("drop_reason is empty: give reasons, or None for every file")
    if bad:
        raise ConfigError(
            f"unknown drop reason(s) {bad}: use reasons such as 'dedup:near' (all: "
            f"corpus.core.reasons.DropReason) or a stage: {', '.join(sorted(stages))}"
        )
    exact = [r for r in wanted if r in known]
    condition: BooleanExpression | None = In("drop_reason", exact) if exact else None
    for stage in (r for r in wanted if r in stages):
        prefix = StartsWith("drop_reason", f"{stage}:")
        condition = prefix if condition is None else Or(condition, prefix)
    return condition


def _as(table: pa.Table, as_polars: bool) -> pa.Table | pl.DataFrame:
    if not as_polars:
        return table
    import polars as pl

    return pl.from_arrow(table)  # type: ignore[return-value]
