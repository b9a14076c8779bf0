"""File-based exchange between the steps of a global stage, with resumable steps.

A step is a set of Ray tasks. Each task reads its partition of the previous
step's output and writes one file per destination partition, named after
itself: a retried task (its worker died) overwrites its own files, so retries
never duplicate rows, and the files live in the run folder (local disk or
object storage, through pyarrow's file systems), so a multi-node cluster sees
them too. A step that finished leaves a marker with its small result; a rerun
of the stage skips it (resume, not restart).
"""

import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from corpus.core.storage import (
    delete_tree,
    exists,
    filesystem_for,
    open_output,
    read_bytes,
    read_parquet,
    write_bytes,
)

MARKER = "_SUCCESS.json"


def join(*parts: str) -> str:
    return "/".join([parts[0].rstrip("/"), *(p.strip("/") for p in parts[1:])])


def write_table(uri: str, table: pa.Table) -> str:
    """Write `table` to `uri` whole or not at all (`corpus.core.storage.open_output`)."""
    with open_output(uri) as stream:
        pq.write_table(table, stream, compression="zstd")
    return uri


def read_table(uri: str, **options: Any) -> pa.Table:
    """One Parquet file of the run folder (`options` go to `pyarrow.parquet.read_table`)."""
    return read_parquet(uri, **options)


def write_partitions(folder: str, name: str, table: pa.Table, parts: np.ndarray, count: int) -> int:
    """Split `table` by `parts` (partition per row) into `folder/part-<p>/<name>.parquet`."""
    if table.num_rows == 0:
        return 0
    order = np.argsort(parts, kind="stable")
    sorted_parts = parts[order]
    bounds = np.searchsorted(sorted_parts, np.arange(count + 1))
    written = 0
    for p in range(count):
        start, end = bounds[p], bounds[p + 1]
        if end > start:
            write_table(
                join(folder, f"part-{p:05d}", f"{name}.parquet"), table.take(order[start:end])
            )
            written += 1
    return written


def read_partition(folder: str, part: int, schema: pa.Schema | None = None) -> pa.Table:
    """Every file written to partition `part` of `folder`, in name order (deterministic)."""
    return read_folder(join(folder, f"part-{part:05d}"), schema)


def read_folder(folder: str, schema: pa.Schema | None = None, recursive: bool = False) -> pa.Table:
    """Every Parquet file under `folder` (and its partitions if `recursive`), in path order."""
    fs, path = filesystem_for(folder)
    infos = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True, recursive=recursive))
    start = len(path.rstrip("/")) + 1
    names = sorted(i.path[start:] for i in infos if i.is_file and i.path.endswith(".parquet"))
    tables = [read_parquet(join(folder, name)) for name in names]
    if not tables:
        if schema is None:
            raise FileNotFoundError(f"no data in {folder} and no schema to make an empty table")
        return schema.empty_table()
    table = pa.concat_tables(tables)
    return table.cast(schema) if schema is not None else table


def read_marker(folder: str) -> dict[str, Any] | None:
    uri = join(folder, MARKER)
    if not exists(uri):
        return None
    return json.loads(read_bytes(uri))


def write_marker(folder: str, result: dict[str, Any]) -> None:
    """The step's result, written after all its files: its presence means the step is done."""
    write_bytes(join(folder, MARKER), json.dumps(result, sort_keys=True).encode())


def delete_folder(folder: str) -> None:
    delete_tree(folder)
