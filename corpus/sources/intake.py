"""Intake rules: turn the bytes a reader found into text, or a recorded reason.

Nothing disappears: a file that cannot be used stays a row with null content
and a `drop_reason` (`intake:binary`, `intake:undecodable`, ...).
"""

import codecs
import hashlib

import charset_normalizer
import pyarrow as pa

from corpus.core.reasons import DropReason
from corpus.core.schema import file_id
from corpus.core.stage import Stage, set_columns

#: Byte-order marks that make NUL bytes legitimate (UTF-16/32 text).
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode(data: bytes, sniff_bytes: int) -> tuple[str | None, str | None, DropReason | None]:
    """(text, encoding, reason): text and encoding when usable, else the drop reason."""
    if not data:
        return None, None, DropReason.INTAKE_EMPTY
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding, None
            except UnicodeDecodeError:
                return None, None, DropReason.INTAKE_UNDECODABLE
    if b"\0" in data[:sniff_bytes]:
        return None, None, DropReason.INTAKE_BINARY
    try:
        return data.decode("utf-8"), "utf-8", None
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(data).best()
    if best is None:
        return None, None, DropReason.INTAKE_UNDECODABLE
    return str(best), best.encoding, None


class IntakeStage(Stage):
    """Reader rows -> `file_id`, `content`, `content_sha256`, `encoding`, `drop_reason`;
    removes the raw `data` and `pre_reason` columns."""

    name = "intake"
    adds = pa.schema(
        [
            pa.field("file_id", pa.string(), nullable=False),
            pa.field("content", pa.string()),
            pa.field("content_sha256", pa.string()),
            pa.field("encoding", pa.string()),
            pa.field("drop_reason", pa.string()),
        ]
    )

    def __call__(self, batch: pa.Table) -> pa.Table:
        sniff = self.config.intake.binary_sniff_bytes
        contents, hashes, encodings, reasons, ids = [], [], [], [], []
        rows = zip(
            batch.column("repo").to_pylist(),
            batch.column("path").to_pylist(),
            batch.column("data").to_pylist(),
            batch.column("pre_reason").to_pylist(),
            strict=True,
        )
        for repo, path, data, pre_reason in rows:
            ids.append(file_id(repo, path))
            hashes.append(hashlib.sha256(data).hexdigest() if data is not None else None)
            if pre_reason is not None:
                text, encoding, reason = None, None, pre_reason
            elif data is None:
                text, encoding, reason = None, None, DropReason.INTAKE_UNREADABLE
            else:
                text, encoding, reason = decode(data, sniff)
            contents.append(text)
            encodings.append(encoding)
            reasons.append(str(reason) if reason is not None else None)
        batch = batch.drop_columns(["data", "pre_reason"])
        return set_columns(batch, self.adds, (ids, contents, hashes, encodings, reasons))
