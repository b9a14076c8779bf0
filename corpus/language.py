"""Language identification, linguist-compatible (go-enry, GitHub linguist's port).

Strategy order is linguist's: modeline, filename, shebang, extension, XML,
manpage, disambiguation heuristics (.h, .md, .ts, .r, .sql, .inc, ...),
classifier. Names are linguist's, with two adjustments that follow the
reference recipe (The Stack v1): `.jsx` files are their own language "JSX",
and the SQL dialects linguist tells apart are counted as "SQL".
"""

import posixpath

import enry
import pyarrow as pa

from corpus.core.stage import Stage, set_columns

#: linguist name -> recipe name, where the recipe groups differently.
RECIPE_ALIASES: dict[str, str] = {
    "PLSQL": "SQL",
    "PLpgSQL": "SQL",
    "SQLPL": "SQL",
    "TSQL": "SQL",
}

#: Extensions the recipe treats as their own language whatever linguist says.
EXTENSION_OVERRIDES: dict[str, str] = {".jsx": "JSX"}

#: Bytes of content handed to the classifier; linguist's heuristics look at the head.
CLASSIFY_BYTES = 64 * 1024

#: Bytes of a file's end also handed to the generated-code check: linguist looks at the
#: last two lines for a source-map reference (JavaScript, CSS) and a VCR cassette marker.
TAIL_BYTES = 4 * 1024


def identify(path: str, data: bytes | None) -> str | None:
    """The language of a file, or None when linguist has no answer."""
    filename = posixpath.basename(path)
    extension = posixpath.splitext(filename)[1].lower()
    if extension in EXTENSION_OVERRIDES:
        return EXTENSION_OVERRIDES[extension]
    name = enry.get_language(filename, (data or b"")[:CLASSIFY_BYTES])
    if not name:
        return None
    return RECIPE_ALIASES.get(name, name)


def _generated_view(data: bytes) -> bytes:
    """The head and the tail of a large file, where linguist's generated-code rules look."""
    if len(data) <= CLASSIFY_BYTES + TAIL_BYTES:
        return data
    return data[:CLASSIFY_BYTES] + b"\n" + data[-TAIL_BYTES:]


class LanguageStage(Stage):
    """Adds `lang`, `is_generated` and `is_vendor` (signals, never drops)."""

    name = "language"
    adds = pa.schema(
        [
            pa.field("lang", pa.string()),
            pa.field("is_generated", pa.bool_(), nullable=False),
            pa.field("is_vendor", pa.bool_(), nullable=False),
        ]
    )

    def __call__(self, batch: pa.Table) -> pa.Table:
        paths = batch.column("path").to_pylist()
        datas = batch.column("data").to_pylist()
        langs, generated, vendor = [], [], []
        for path, data in zip(paths, datas, strict=True):
            langs.append(identify(path, data))
            generated.append(bool(enry.is_generated(path, _generated_view(data or b""))))
            vendor.append(bool(enry.is_vendor(path)))
        return set_columns(batch, self.adds, (langs, generated, vendor))
