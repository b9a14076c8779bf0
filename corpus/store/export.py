"""Export a version's files to a folder of Parquet or JSONL files with a manifest.

By default the export holds the version's kept files with their content (from
`<ds>.files`). With `include_dropped` it holds every file of the version (from
`<ds>.decisions`) with the content of the kept ones; `<ds>.files` stores no
content for dropped files, so theirs is null.

Rows are sorted by `file_id` across the whole export, whatever the size, with
bounded memory: the scan is streamed batch by batch (`to_arrow_batch_reader`)
into buckets of `file_id` ranges (in memory when the export is small, else
spilled to Parquet under `DIR/.spill`), then each bucket is sorted and written
in order. Output files roll over at a row and a content-byte limit computed on
the sorted rows only, so the same version, filter and limits always give the
same bytes. `manifest.json` is written last: a folder without it holds an
incomplete export.
"""

import hashlib
import json
import math
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyiceberg.expressions import BooleanExpression, In, IsNull, Or

from corpus.core.errors import CodecorpusError
from corpus.store.catalog import DECISIONS, FILES, Catalog
from corpus.store.versions import Registry, Version, scan_version

FORMATS = ("parquet", "jsonl")
MANIFEST = "manifest.json"
SPILL = ".spill"
PART = re.compile(r"^part-\d{5}\.(parquet|jsonl)$")
UNKNOWN = "unknown"  # files without a language, as in the version stats


class ExportError(CodecorpusError):
    """An export cannot start; the message says what to change."""


class OutputNotEmpty(ExportError):
    """The output folder holds files; --overwrite replaces a previous export only."""


class UnknownLanguage(ExportError, LookupError):
    """A --lang name is not a language of the version."""


@dataclass(frozen=True)
class ExportLimits:
    rows_per_file: int = 100_000
    """An output file holds at most this many rows."""
    bytes_per_file: int = 128 << 20
    """... and at most about this many bytes of content (at least one row)."""
    bucket_bytes: int = 256 << 20
    """Content bytes sorted in memory at once; more spill to Parquet buckets."""
    max_buckets: int = 1024

    def __post_init__(self) -> None:
        for name in ("rows_per_file", "bytes_per_file", "bucket_bytes", "max_buckets"):
            if getattr(self, name) < 1:
                raise ExportError(f"export limit {name} must be a positive integer")


def export_version(
    catalog: Catalog,
    dataset: str,
    version: str,
    out: Path,
    fmt: str = "parquet",
    languages: list[str] | None = None,
    include_dropped: bool = False,
    overwrite: bool = False,
    limits: ExportLimits | None = None,
) -> dict[str, Any]:
    """Write the export into `out` and return its manifest (also in `out/manifest.json`)."""
    limits = limits or ExportLimits()
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    resolved = Registry(catalog, dataset).get(version)
    selected = resolve_languages(resolved, languages, include_dropped)
    _prepare(out, overwrite)
    condition = language_filter(selected)
    buckets = _bucket_count(resolved, selected, include_dropped, limits)
    spill = out / SPILL
    try:
        if include_dropped:
            rows = _sorted_rows(catalog, dataset, resolved, DECISIONS, None, condition, buckets,
                                spill / "decisions")  # fmt: skip
            content = _sorted_rows(catalog, dataset, resolved, FILES, ("file_id", "content"),
                                   condition, buckets, spill / "content")  # fmt: skip
            tables = (_with_content(r, c) for r, c in zip(rows, content, strict=True))
        else:
            tables = _sorted_rows(catalog, dataset, resolved, FILES, None, condition, buckets,
                                  spill / "files")  # fmt: skip
        written = _write_parts(tables, out, fmt, limits)
    finally:
        shutil.rmtree(spill, ignore_errors=True)
    manifest = {
        "dataset": dataset,
        "version": resolved.name,
        "created_at": resolved.created_at.isoformat(),
        "config_fingerprint": resolved.config_fingerprint,
        "lineage": resolved.lineage.to_dict(),
        "format": fmt,
        "languages": selected,
        "include_dropped": include_dropped,
        "sorted_by": "file_id",
        "rows": sum(f["rows"] for f in written),
        "kept_rows": sum(f["kept_rows"] for f in written),
        "files": written,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def resolve_languages(
    version: Version, names: list[str] | None, include_dropped: bool
) -> list[str] | None:
    """The version's spelling of each requested language (matched ignoring case), sorted;
    None when no filter was asked for."""
    if not names:
        return None
    stats = version.stats
    known = stats.languages_all if include_dropped else stats.languages
    by_fold = {lang.casefold(): lang for lang in known}
    out = set()
    for name in names:
        lang = by_fold.get(name.casefold())
        if lang is None:
            what = "files" if include_dropped else "kept files"
            hint = ""
            if not include_dropped and name.casefold() in map(str.casefold, stats.languages_all):
                hint = f"; {name} files were all dropped (add --include-dropped to export them)"
            raise UnknownLanguage(
                f"version {version.name!r} has no {what} in language {name!r}{hint}; "
                f"its languages: {', '.join(sorted(known)) or 'none'}"
            )
        out.add(lang)
    return sorted(out)


def language_filter(languages: list[str] | None) -> BooleanExpression | None:
    if languages is None:
        return None
    named = [lang for lang in languages if lang != UNKNOWN]
    condition: BooleanExpression | None = In("lang", named) if named else None
    if UNKNOWN in languages:
        condition = IsNull("lang") if condition is None else Or(condition, IsNull("lang"))
    return condition


def _prepare(out: Path, overwrite: bool) -> None:
    """Refuse a folder with files unless `overwrite`, which removes a previous export only."""
    if out.exists() and not out.is_dir():
        raise OutputNotEmpty(f"{out} is a file; --out needs a folder")
    entries = sorted(p.name for p in out.iterdir()) if out.exists() else []
    if entries and not overwrite:
        raise OutputNotEmpty(
            f"{out} is not empty ({len(entries)} entries); choose an empty folder, "
            f"or pass --overwrite to replace a previous export there"
        )
    foreign = [n for n in entries if n not in (MANIFEST, SPILL) and not PART.match(n)]
    if foreign:
        raise OutputNotEmpty(
            f"{out} holds files that are not from an export ({', '.join(foreign[:5])}); "
            f"--overwrite only replaces an export: choose another folder"
        )
    for name in entries:
        path = out / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    out.mkdir(parents=True, exist_ok=True)


def _bucket_count(
    version: Version, languages: list[str] | None, include_dropped: bool, limits: ExportLimits
) -> int:
    """Buckets so that one holds about `bucket_bytes` of content (from the version stats)."""
    stats = version.stats
    counts = stats.languages_all if include_dropped else stats.languages
    size = sum(e.bytes for lang, e in counts.items() if languages is None or lang in languages)
    return max(1, min(limits.max_buckets, math.ceil(size / limits.bucket_bytes)))


def _bucket_of(file_ids: pa.ChunkedArray | pa.Array, buckets: int) -> np.ndarray:
    """Bucket of each file id: ranges of its first 8 characters, in lexicographic order
    (file ids are hex digests, so the buckets are even)."""
    bounds = np.array([f"{(i << 32) // buckets:08x}" for i in range(1, buckets)], dtype="U8")
    prefixes = pc.utf8_slice_codeunits(file_ids, 0, 8).to_numpy(zero_copy_only=False)
    return np.searchsorted(bounds, prefixes.astype("U8"), side="right")


def _sorted_rows(
    catalog: Catalog,
    dataset: str,
    version: Version,
    table: str,
    columns: tuple[str, ...] | None,
    condition: BooleanExpression | None,
    buckets: int,
    spill: Path,
) -> Iterator[pa.Table]:
    """One table per bucket, in file_id order, each sorted by file_id."""
    scan = scan_version(catalog, dataset, version, table)
    if condition is not None:
        scan = scan.filter(condition)
    if columns is not None:
        scan = scan.select(*columns)
    reader = scan.to_arrow_batch_reader()
    if buckets == 1:
        rows = pa.Table.from_batches(list(reader), schema=reader.schema)
        yield rows.sort_by("file_id")
        return
    spill.mkdir(parents=True, exist_ok=True)
    writers: dict[int, pq.ParquetWriter] = {}
    try:
        for batch in reader:
            which = _bucket_of(batch.column("file_id"), buckets)
            order = np.argsort(which, kind="stable")
            ordered = batch.take(pa.array(order))
            starts = np.searchsorted(which[order], np.arange(buckets + 1))
            for bucket in np.flatnonzero(np.diff(starts)):
                part = ordered.slice(starts[bucket], starts[bucket + 1] - starts[bucket])
                if bucket not in writers:
                    writers[bucket] = pq.ParquetWriter(
                        spill / f"{bucket:05d}.parquet", reader.schema
                    )
                writers[bucket].write_batch(part)
    finally:
        for writer in writers.values():
            writer.close()
    for bucket in range(buckets):
        path = spill / f"{bucket:05d}.parquet"
        if bucket in writers:
            rows = pq.read_table(path, schema=reader.schema)
            path.unlink()
            yield rows.sort_by("file_id")
        else:
            yield reader.schema.empty_table()


def _with_content(rows: pa.Table, content: pa.Table) -> pa.Table:
    """Decisions rows (sorted) with the content of the kept ones, as the files table lays
    out its columns (content after size)."""
    field = content.schema.field("content")
    where = pc.index_in(rows.column("file_id"), value_set=content.column("file_id"))
    values = content.column("content").take(where)  # null where the file was dropped
    return rows.add_column(rows.schema.get_field_index("size") + 1, field, values)


def _write_parts(
    tables: Iterator[pa.Table], out: Path, fmt: str, limits: ExportLimits
) -> list[dict[str, Any]]:
    """Cut the sorted row stream into parts at the row and byte limits and write them."""
    written: list[dict[str, Any]] = []
    pending: list[pa.Table] = []
    rows = size = 0

    def flush() -> None:
        nonlocal rows, size
        if pending:
            path = out / f"part-{len(written):05d}.{fmt}"
            written.append(_write_part(pa.concat_tables(pending), path, fmt))
        pending.clear()
        rows = size = 0

    for table in tables:
        weights = pc.fill_null(pc.binary_length(table.column("content")), 0).to_numpy()
        start = 0
        while start < table.num_rows:
            if rows == limits.rows_per_file:
                flush()
            sums = size + np.cumsum(weights[start : start + limits.rows_per_file - rows])
            take = int(np.searchsorted(sums, limits.bytes_per_file, side="right"))
            if take == 0 and rows:  # the next row would overflow this part: start the next
                flush()
                continue
            take = max(take, 1)  # a row larger than the limit goes alone
            pending.append(table.slice(start, take))
            rows, size, start = rows + take, int(sums[take - 1]), start + take
            if take < len(sums):
                flush()
    flush()
    return written


def _write_part(table: pa.Table, path: Path, fmt: str) -> dict[str, Any]:
    if fmt == "parquet":
        pq.write_table(table, path, compression="zstd", row_group_size=10_000)
    else:
        _write_jsonl(table, path)
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    file_ids = table.column("file_id")
    return {
        "path": path.name,
        "rows": table.num_rows,
        "kept_rows": table.column("drop_reason").null_count,
        "bytes": path.stat().st_size,
        "sha256": digest.hexdigest(),
        "first_file_id": file_ids[0].as_py(),
        "last_file_id": file_ids[-1].as_py(),
    }


def _write_jsonl(table: pa.Table, path: Path, chunk_rows: int = 1000) -> None:
    """One JSON object per line, UTF-8 as is (ensure_ascii=False), timestamps ISO 8601;
    NaN floats become null (JSON has no NaN)."""
    columns = [
        pc.if_else(pc.is_nan(c), None, c) if pa.types.is_floating(c.type) else c
        for c in table.columns
    ]
    table = pa.Table.from_arrays(columns, names=table.column_names)
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for batch in table.to_batches(chunk_rows):
            for row in batch.to_pylist():
                handle.write(json.dumps(row, ensure_ascii=False, default=_json_value))
                handle.write("\n")


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


__all__ = [
    "ExportError", "ExportLimits", "OutputNotEmpty", "UnknownLanguage",
    "export_version", "resolve_languages",
]  # fmt: skip
