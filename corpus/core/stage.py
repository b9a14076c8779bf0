"""The stage contract: a callable class over Arrow tables, heavy state built once per worker."""

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import pyarrow as pa

#: The curation config a stage reads its section from (`corpus.pipeline.config.CurationConfig`,
#: which imports the stages' packages, so the contract cannot name it).
CurationConfig = Any


class Stage(ABC):
    """A row-local, deterministic transformation of a batch.

    Subclasses declare the columns they add in `adds` and build heavy state in
    `__init__`; `__call__` must not depend on batch boundaries or worker count.
    """

    name: ClassVar[str]
    adds: ClassVar[pa.Schema]

    def __init__(self, config: CurationConfig, context: Mapping[str, Any] | None = None) -> None:
        self.config = config
        self.context = context or {}
        """Results of global steps the stage reads (e.g. license scopes), resolved per worker."""

    @abstractmethod
    def __call__(self, batch: pa.Table) -> pa.Table: ...


class StageChain:
    """Applies stages in order inside one worker, so batches never cross processes between
    stages (Ray would copy each through the object store)."""

    def __init__(
        self,
        stage_types: Sequence[type[Stage]],
        config: CurationConfig,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        self.stages = [stage_type(config, context) for stage_type in stage_types]

    def __call__(self, batch: pa.Table) -> pa.Table:
        for stage in self.stages:
            batch = stage(batch)
        return batch


def set_column(table: pa.Table, name: str, values: pa.Array | pa.ChunkedArray) -> pa.Table:
    """Replace `name` if present, else append it."""
    if name in table.column_names:
        return table.set_column(table.column_names.index(name), name, values)
    return table.append_column(name, values)


def set_columns(batch: pa.Table, schema: pa.Schema, values: Sequence[list]) -> pa.Table:
    """Set each field of `schema` (a stage's `adds`) from the Python list at the same position."""
    for field, column in zip(schema, values, strict=True):
        batch = set_column(batch, field.name, pa.array(column, field.type))
    return batch
