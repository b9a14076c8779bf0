"""The one record schema that flows through every stage.

Ingest produces RAW_SCHEMA rows. Curation keeps the same columns; later stages
append theirs (each stage declares them in `Stage.adds`). A version is written
as two tables: DECISIONS (every file, no content) and FILES (kept files).
"""

import hashlib

import pyarrow as pa

#: Column name -> what it holds. The schema below follows this order.
COLUMN_DOCS: dict[str, str] = {
    "file_id": "32 hex chars, blake2b-128 of repo + NUL + path: stable across ingests",
    "repo": "repository name (owner/name for hosted sources, folder or archive name otherwise)",
    "path": "POSIX path of the file inside its repository",
    "lang": "language: linguist name, or the reference recipe's name (JSX, SQL); null if unknown",
    "size": "size of the file in bytes as stored at the source",
    "content": "decoded text; null when intake dropped the file",
    "content_sha256": "sha256 hex of the exact bytes; null when they were not read (symlinks)",
    "encoding": "encoding the bytes were decoded from (utf-8 unless a detector chose another)",
    "stars": "repository stars, when the source carries them",
    "forks": "repository forks, when the source carries them",
    "revision_date": "date of the revision the file comes from, when the source carries it",
    "source_licenses": "licenses the source declares for the repository (Stack-style columns)",
    "is_generated": "linguist's is_generated signal (not a drop)",
    "is_vendor": "linguist's is_vendor signal (not a drop)",
    "source": "URI of the source the file was read from",
    "ingest_id": "id of the ingest that added this row",
    "drop_reason": "null when kept, else a corpus.core.reasons.DropReason value",
    "license_evidence_kind": "for license evidence files: license_file, manifest, readme, notice",
    "license_evidence": "for license evidence files: the SPDX expression they state",
    "license_evidence_score": "for license evidence files: match score in [0, 1]",
    "spdx_header": "expression of the file's SPDX-License-Identifier header, if any",
}

RAW_SCHEMA = pa.schema(
    [
        pa.field("file_id", pa.string(), nullable=False),
        pa.field("repo", pa.string(), nullable=False),
        pa.field("path", pa.string(), nullable=False),
        pa.field("lang", pa.string()),
        pa.field("size", pa.int64(), nullable=False),
        pa.field("content", pa.string()),
        pa.field("content_sha256", pa.string()),
        pa.field("encoding", pa.string()),
        pa.field("stars", pa.int64()),
        pa.field("forks", pa.int64()),
        pa.field("revision_date", pa.timestamp("us", tz="UTC")),
        pa.field("source_licenses", pa.list_(pa.string())),
        pa.field("is_generated", pa.bool_(), nullable=False),
        pa.field("is_vendor", pa.bool_(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("ingest_id", pa.string(), nullable=False),
        pa.field("drop_reason", pa.string()),
        pa.field("license_evidence_kind", pa.string()),
        pa.field("license_evidence", pa.string()),
        pa.field("license_evidence_score", pa.float64()),
        pa.field("spdx_header", pa.string()),
    ],
    metadata={k.encode(): v.encode() for k, v in COLUMN_DOCS.items()},
)

VERSION_FIELD = pa.field("version", pa.string(), nullable=False)


def decisions_schema(stage_columns: pa.Schema | None = None) -> pa.Schema:
    """Every file of a version without its content, plus the columns stages added."""
    fields = [VERSION_FIELD, *(f for f in RAW_SCHEMA if f.name != "content")]
    if stage_columns is not None:
        fields.extend(stage_columns)
    return pa.schema(fields)


def files_schema(stage_columns: pa.Schema | None = None) -> pa.Schema:
    """Kept files of a version, with content."""
    fields = [VERSION_FIELD, *RAW_SCHEMA]
    if stage_columns is not None:
        fields.extend(stage_columns)
    return pa.schema(fields)


def file_id(repo: str, path: str) -> str:
    """Stable id of a file: the same repo and path always give the same id."""
    digest = hashlib.blake2b(f"{repo}\0{path}".encode(), digest_size=16)
    return digest.hexdigest()


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Select and cast `table` to `schema`, filling absent nullable columns with nulls."""
    columns = []
    for field in schema:
        if field.name in table.column_names:
            columns.append(table.column(field.name).cast(field.type))
        elif field.nullable:
            columns.append(pa.nulls(table.num_rows, field.type))
        else:
            raise KeyError(f"batch lacks required column {field.name!r}")
    return pa.Table.from_arrays(columns, schema=schema)
