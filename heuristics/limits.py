"""Per-file thresholds: the extension's override, else the language's, else the default."""

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from heuristics.config import HeuristicsConfig

#: The extension of a path's last segment, lower-cased by the caller ("" when none).
_EXTENSION = r"\.(?P<ext>[^./]*)$"


def extensions(path: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Lower-case extension after the last dot of the file name, null when there is none."""
    found = pc.extract_regex(path, _EXTENSION)
    return pc.utf8_lower(pc.struct_field(found, "ext"))


def _extension_column(batch: pa.Table) -> pa.Array | pa.ChunkedArray:
    if "extension" in batch.column_names:  # the stage adds it once per batch
        return batch.column("extension")
    return extensions(batch.column("path"))


class Limits:
    """Resolves a threshold for every row of a batch, vectorised over the few overrides."""

    def __init__(self, config: HeuristicsConfig) -> None:
        self.defaults = config.thresholds
        self.by_language = config.resolved.by_language
        self.by_extension = config.resolved.by_extension

    def for_file(self, lang: str | None, path: str) -> dict[str, Any]:
        """Every threshold that applies to one file (for `heuristics explain`)."""
        values = {
            name: getattr(self.defaults, name) for name in self.defaults.__dataclass_fields__
        }
        values.update(self.by_language.get(lang or "", {}))
        ext = path.rsplit("/", 1)[-1].rpartition(".")
        values.update(self.by_extension.get(ext[2].lower() if ext[1] else "", {}))
        return values

    def column(self, name: str, batch: pa.Table) -> pa.Array:
        """Threshold `name` per row; null where it is switched off."""
        default = getattr(self.defaults, name)
        kind = pa.bool_() if isinstance(default, bool) else pa.float64()
        n = batch.num_rows
        values = np.full(n, 0 if default is None else default, dtype=object)
        valid = np.full(n, default is not None)
        for overrides, keys in (
            (self.by_language, batch.column("lang")),
            (self.by_extension, _extension_column(batch)),
        ):
            named = [k for k, o in overrides.items() if name in o]
            if not named:
                continue
            index = pc.index_in(keys, value_set=pa.array(named, pa.string()))
            index = pc.fill_null(index, -1).to_numpy(zero_copy_only=False)
            hit = index >= 0
            chosen = [overrides[named[i]][name] for i in index[hit]]
            values[hit] = [0 if v is None else v for v in chosen]
            valid[hit] = [v is not None for v in chosen]
        return pa.array(values.tolist(), kind, mask=~valid)
