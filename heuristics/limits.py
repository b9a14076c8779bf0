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


#: Private columns the stage adds for the rules and removes before it returns.
LANG_KEY, EXTENSION_KEY = "_heuristics_lang_key", "_heuristics_extension_key"


class Limits:
    """Resolves thresholds for every row of a batch. Each threshold is precomputed as a small
    matrix over (overridden languages + none) x (overridden extensions + none); per batch,
    each row's language and extension are looked up once (`keys`), and a threshold column is
    then one numpy gather."""

    def __init__(self, config: HeuristicsConfig) -> None:
        self.defaults = config.thresholds
        self.by_language = config.resolved.by_language
        self.by_extension = config.resolved.by_extension
        self.languages = pa.array(list(self.by_language), pa.string())
        self.extensions = pa.array(list(self.by_extension), pa.string())
        self.matrices = {name: self._matrix(name) for name in self.defaults.__dataclass_fields__}

    def _matrix(self, name: str) -> np.ndarray:
        """Threshold `name` for every (language, extension) pair; NaN where switched off.
        The last row and column stand for "no override" (key -1)."""
        languages = [*self.by_language.values(), {}]
        extensions = [*self.by_extension.values(), {}]
        matrix = np.empty((len(languages), len(extensions)))
        for i, lang in enumerate(languages):
            for j, ext in enumerate(extensions):
                value = {name: getattr(self.defaults, name), **lang, **ext}[name]
                matrix[i, j] = np.nan if value is None else float(value)
        return matrix

    def for_file(self, lang: str | None, path: str) -> dict[str, Any]:
        """Every threshold that applies to one file (for `heuristics explain`)."""
        values = {name: getattr(self.defaults, name) for name in self.defaults.__dataclass_fields__}
        values.update(self.by_language.get(lang or "", {}))
        ext = path.rsplit("/", 1)[-1].rpartition(".")
        values.update(self.by_extension.get(ext[2].lower() if ext[1] else "", {}))
        return values

    def keys(self, batch: pa.Table) -> dict[str, pa.Array | pa.ChunkedArray]:
        """Per row: index of its language / extension among the overridden ones, or -1."""
        lang = pc.index_in(batch.column("lang"), value_set=self.languages)
        ext = pc.index_in(_extension_column(batch), value_set=self.extensions)
        return {LANG_KEY: pc.fill_null(lang, -1), EXTENSION_KEY: pc.fill_null(ext, -1)}

    def column(self, name: str, batch: pa.Table) -> pa.Array:
        """Threshold `name` per row; null where it is switched off."""
        present = LANG_KEY in batch.schema.names
        keys = (
            {k: batch.column(k) for k in (LANG_KEY, EXTENSION_KEY)} if present else self.keys(batch)
        )
        lang, ext = (keys[k].to_numpy() for k in (LANG_KEY, EXTENSION_KEY))
        values = self.matrices[name][lang, ext]
        if isinstance(getattr(self.defaults, name), bool):
            return pa.array(values == 1, pa.bool_(), mask=np.isnan(values))
        return pa.array(values, pa.float64(), mask=np.isnan(values))
