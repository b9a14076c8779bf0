"""The curate worker: runs in Ray worker processes, so it imports nothing catalog-related."""

import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from corpus.config import CurationConfig
from corpus.licenses.stage import LicenseStage
from corpus.rowkeys import ROW_KEY, contains, row_keys
from corpus.runner import resolve
from corpus.schema import conform, decisions_schema, files_schema
from corpus.stage import Stage, StageChain
from corpus.summary import CallSummary
from corpus.writer import ParquetSink
from heuristics.licenses import LicenseRuleStage
from heuristics.stage import HeuristicsStage

#: Row-local stages applied at curation, in order. Intake, language and license facts
#: already ran at ingest. Each rule stage keeps the first drop reason a file got.
CURATE_STAGES: tuple[type[Stage], ...] = (LicenseStage, LicenseRuleStage, HeuristicsStage)


def stage_columns(stages: tuple[type[Stage], ...] = CURATE_STAGES) -> pa.Schema:
    return pa.schema([f for stage in stages for f in stage.adds])


class CurateWorker:
    """Ray actor: raw data files -> stage chain -> the version's two sets of data files."""

    def __init__(
        self,
        config: dict,
        version: str,
        decisions_folder: str,
        files_folder: str,
        superseded: np.ndarray,
        batch_rows: int,
        context: dict[str, Any],
    ) -> None:
        self.config = CurationConfig.from_dict(config)
        resolved = {key: resolve(value) for key, value in context.items()}
        self.chain = StageChain(CURATE_STAGES, self.config, resolved)
        self.version = version
        self.folders = (decisions_folder, files_folder)
        self.superseded = resolve(superseded)
        self.batch_rows = batch_rows
        extra = stage_columns()
        self.schemas = (decisions_schema(extra), files_schema(extra))

    def __call__(self, units: pa.Table) -> pa.Table:
        decisions = ParquetSink(self.folders[0], self.schemas[0], prefix=f"{self.version}-")
        files = ParquetSink(self.folders[1], self.schemas[1], prefix=f"{self.version}-")
        summary = CallSummary()
        for payload in units.column("unit").to_pylist():
            summary.units += 1
            for batch in self._read(json.loads(payload)["uri"]):
                stale = contains(self.superseded, row_keys(batch, ROW_KEY))
                if stale.any():
                    batch = batch.filter(pa.array(~stale))
                summary.seen += batch.num_rows
                batch = self.chain(batch)
                batch = batch.append_column(
                    "version", pa.array([self.version] * batch.num_rows, pa.string())
                )
                summary.tally.add_table(batch)
                summary.bytes_seen += int(pc.sum(batch.column("size")).as_py() or 0)
                if "stripped_bytes" in batch.column_names:
                    summary.stripped_bytes += int(
                        pc.sum(batch.column("stripped_bytes")).as_py() or 0
                    )
                decisions.write(conform(batch, self.schemas[0]))
                kept = batch.filter(pc.is_null(batch.column("drop_reason")))
                files.write(conform(kept, self.schemas[1]))
        summary.data_files = decisions.close()
        summary.extra_files = files.close()
        return summary.to_table()

    def _read(self, uri: str):
        fs, path = pafs.FileSystem.from_uri(uri)
        with fs.open_input_file(path) as handle:
            for batch in pq.ParquetFile(handle).iter_batches(batch_size=self.batch_rows):
                yield pa.Table.from_batches([batch])
