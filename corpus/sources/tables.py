"""Read Stack-style Parquet / JSONL files: one row per file, content plus repo metadata.

Column names differ between datasets (The Stack v1 uses max_stars_repo_*, v2
uses repo_name / detected_licenses / star_events_count); aliases cover both
and a user mapping overrides them.
"""

from collections.abc import Iterator, Mapping

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson
import pyarrow.parquet as pq

from corpus.core.errors import SourceError
from corpus.core.reasons import DropReason
from corpus.sources.config import IntakeConfig
from corpus.sources.filesystem import Location
from corpus.sources.records import READ_SCHEMA

#: Our column -> the names it goes by in known datasets, in order of preference.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "content": ("content", "text", "code"),
    "path": ("path", "max_stars_repo_path", "file_path", "filepath"),
    "repo": ("repo_name", "max_stars_repo_name", "repo", "repository_name"),
    "stars": ("stars", "star_events_count", "max_stars_count", "stars_count"),
    "forks": ("forks", "fork_events_count", "max_forks_count", "forks_count"),
    "revision_date": (
        "revision_date",
        "committer_date",
        "max_stars_repo_stars_event_min_datetime",
    ),
    "source_licenses": ("licenses", "detected_licenses", "max_stars_repo_licenses", "license"),
}
REQUIRED = ("content", "path", "repo")
TABLE_SUFFIXES = (".parquet", ".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")


def is_table(name: str) -> bool:
    return name.lower().endswith(TABLE_SUFFIXES)


def resolve_columns(
    available: list[str], overrides: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Map our column names to the source's; raises SourceError if a required one is missing."""
    overrides = dict(overrides or {})
    mapping: dict[str, str] = {}
    for ours, aliases in COLUMN_ALIASES.items():
        if ours in overrides:
            if overrides[ours] not in available:
                raise SourceError(
                    f"column {overrides[ours]!r} given for {ours} is not in the source"
                )
            mapping[ours] = overrides[ours]
            continue
        found = next((a for a in aliases if a in available), None)
        if found is not None:
            mapping[ours] = found
    missing = [c for c in REQUIRED if c not in mapping]
    if missing:
        raise SourceError(
            f"source lacks column(s) for {missing}; it has {available}. "
            f"Name them with --column ours=theirs (e.g. --column content=text)."
        )
    return mapping


def table_columns(location: Location) -> list[str]:
    """Column names of a table source, read from its footer or first line; validates the file."""
    fs, path = location.resolve()
    try:
        if location.name.lower().endswith(".parquet"):
            with fs.open_input_file(path) as handle:
                return pq.ParquetFile(handle).schema_arrow.names
        with _open_json(fs, path, location.name) as reader:
            return reader.schema.names
    except (pa.ArrowInvalid, OSError) as exc:
        raise SourceError(f"{location.uri} is not a readable table: {exc}") from exc


def read_table_source(
    location: Location,
    intake: IntakeConfig,
    batch_rows: int,
    overrides: Mapping[str, str] | None = None,
) -> Iterator[pa.Table]:
    fs, path = location.resolve()
    try:
        if location.name.lower().endswith(".parquet"):
            with fs.open_input_file(path) as handle:
                parquet = pq.ParquetFile(handle)
                mapping = resolve_columns(parquet.schema_arrow.names, overrides)
                for batch in parquet.iter_batches(
                    batch_size=batch_rows, columns=list(set(mapping.values()))
                ):
                    yield _normalise(pa.Table.from_batches([batch]), mapping, location.uri, intake)
        else:
            with _open_json(fs, path, location.name) as reader:
                mapping = resolve_columns(reader.schema.names, overrides)
                for batch in reader:
                    for start in range(0, batch.num_rows, batch_rows):
                        chunk = pa.Table.from_batches([batch.slice(start, batch_rows)])
                        yield _normalise(chunk, mapping, location.uri, intake)
    except (pa.ArrowInvalid, OSError) as exc:
        raise SourceError(f"{location.uri} is malformed: {exc}") from exc


def _open_json(fs, path: str, name: str):
    compression = "gzip" if name.lower().endswith(".gz") else None
    stream = fs.open_input_stream(path, compression=compression)
    return pajson.open_json(stream, read_options=pajson.ReadOptions(block_size=16 << 20))


def _normalise(
    table: pa.Table, mapping: dict[str, str], source: str, intake: IntakeConfig
) -> pa.Table:
    n = table.num_rows
    content = table.column(mapping["content"])
    data = content.cast(pa.large_binary())  # zero-copy for strings: the UTF-8 bytes as stored
    size = pc.fill_null(pc.binary_length(data), 0).cast(pa.int64())
    too_large = pc.greater(size, intake.max_file_bytes)
    pre_reason = pc.if_else(
        pc.is_null(data),
        pa.scalar(DropReason.INTAKE_UNREADABLE.value),
        pc.if_else(
            too_large, pa.scalar(DropReason.INTAKE_TOO_LARGE.value), pa.scalar(None, pa.string())
        ),
    )
    data = pc.if_else(too_large, pa.scalar(None, pa.large_binary()), data)
    columns = {
        "repo": table.column(mapping["repo"]).cast(pa.string()),
        "path": table.column(mapping["path"]).cast(pa.string()),
        "data": data,
        "size": size,
        "pre_reason": pre_reason,
        "stars": _optional(table, mapping, "stars", pa.int64(), n),
        "forks": _optional(table, mapping, "forks", pa.int64(), n),
        "revision_date": _dates(table, mapping, n),
        "source_licenses": _licenses(table, mapping, n),
        "source": pa.array([source] * n, pa.string()),
    }
    return pa.Table.from_pydict(columns, schema=READ_SCHEMA)


def _optional(table: pa.Table, mapping: dict[str, str], ours: str, type_: pa.DataType, n: int):
    if ours not in mapping:
        return pa.nulls(n, type_)
    column = table.column(mapping[ours])
    try:
        return column.cast(type_)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pc.cast(column, type_, safe=False)


def _dates(table: pa.Table, mapping: dict[str, str], n: int):
    target = pa.timestamp("us", tz="UTC")
    if "revision_date" not in mapping:
        return pa.nulls(n, target)
    column = table.column(mapping["revision_date"])
    if pa.types.is_timestamp(column.type):
        if column.type.tz is None:
            column = pc.assume_timezone(column, "UTC")
        return column.cast(target)
    # ISO-8601 strings; a value that does not parse becomes null (the file stays).
    values = []
    for text in column.to_pylist():
        try:
            values.append(pa.scalar(text).cast(target).as_py() if text else None)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            values.append(None)
    return pa.array(values, target)


def _licenses(table: pa.Table, mapping: dict[str, str], n: int):
    target = pa.list_(pa.string())
    if "source_licenses" not in mapping:
        return pa.nulls(n, target)
    column = table.column(mapping["source_licenses"])
    if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
        return column.cast(target)
    return pa.array([[v] if v else None for v in column.cast(pa.string()).to_pylist()], target)
