"""The ingest worker: runs in Ray worker processes, so it imports nothing catalog-related."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpus.core.cluster import resolve
from corpus.core.errors import SourceError
from corpus.core.reasons import DropReason
from corpus.core.rowkeys import contains, row_keys
from corpus.core.schema import RAW_SCHEMA, conform
from corpus.core.stage import StageChain
from corpus.core.summary import CallSummary
from corpus.core.writers import ParquetSink
from corpus.language import LanguageStage
from corpus.licenses.stage import LicenseFactsStage
from corpus.pipeline.config import CurationConfig
from corpus.sources import Unit, read_unit
from corpus.sources.filesystem import Location
from corpus.sources.intake import IntakeStage
from corpus.sources.records import RecordBuffer

#: Stages of ingest, in order. Language reads the raw bytes, so it runs before intake;
#: license facts read the decoded text, so they run after it.
INGEST_STAGES = (LanguageStage, IntakeStage, LicenseFactsStage)


class IngestWorker:
    """Ray actor: reads units and writes new raw rows as Parquet."""

    def __init__(
        self,
        config: dict,
        ingest_id: str,
        folder_uri: str,
        known_keys: np.ndarray,
        batch_rows: int,
    ) -> None:
        self.config = CurationConfig.from_dict(config)
        self.chain = StageChain(INGEST_STAGES, self.config)
        self.ingest_id = ingest_id
        self.folder_uri = folder_uri
        self.known_keys = resolve(known_keys)
        self.batch_rows = batch_rows

    def __call__(self, units: pa.Table) -> pa.Table:
        sink = ParquetSink(self.folder_uri, RAW_SCHEMA, prefix=f"{self.ingest_id}-")
        summary = CallSummary()
        for payload in units.column("unit").to_pylist():
            unit = Unit.from_row(json.loads(payload))
            summary.units += 1
            for batch in self._read(unit):
                summary.bytes_seen += int(pc.sum(batch.column("size")).as_py() or 0)
                rows = conform(self._process(batch), RAW_SCHEMA)
                summary.seen += rows.num_rows
                known = contains(self.known_keys, row_keys(rows))
                if known.any():
                    summary.skipped += int(known.sum())
                    rows = rows.filter(pa.array(~known))
                summary.tally.add_table(rows)
                sink.write(rows)
        summary.data_files = sink.close()
        return summary.to_table()

    def _read(self, unit: Unit):
        try:
            yield from read_unit(unit, self.config.intake, self.batch_rows)
        except SourceError:
            # A corrupt archive or table mid-read: record the source itself as unreadable.
            buffer = RecordBuffer(source=unit.uri, batch_rows=1)
            name = Location(unit.uri).name
            yield buffer.add(unit.repo or name, name, None, 0, DropReason.INTAKE_UNREADABLE)

    def _process(self, batch: pa.Table) -> pa.Table:
        batch = self.chain(batch)
        return batch.append_column("ingest_id", pa.array([self.ingest_id] * batch.num_rows))
