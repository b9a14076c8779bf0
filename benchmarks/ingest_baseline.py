"""The ingest benchmark's baseline: a straightforward single-process script doing the same
per-file work as our ingest (walk, read, hash, decode, identify, stages, one Parquet)."""

import hashlib
import os
import stat
import time
from pathlib import Path


def baseline_ingest(root: Path, out: Path) -> dict:
    """Straightforward script doing ingest's per-file work; returns counts and seconds."""
    import enry
    import pyarrow as pa
    import pyarrow.parquet as pq

    from corpus.core.reasons import DropReason
    from corpus.core.schema import file_id
    from corpus.language import CLASSIFY_BYTES, LanguageStage, identify
    from corpus.pipeline.config import CurationConfig
    from corpus.pipeline.ingest_worker import INGEST_STAGES
    from corpus.sources.intake import IntakeStage, decode

    config = CurationConfig()
    intake = config.intake
    # stages ingest runs after language and intake do the same work here, on all rows at once
    further = [s(config) for s in INGEST_STAGES if s not in (LanguageStage, IntakeStage)]
    # Warm per-process caches before the clock, as Ray's reused worker processes have them
    # warm between runs: the license reference index, enry's first call.
    from corpus.licenses.matcher import _index

    _index()
    identify("warm.py", b"x = 1\n")
    start = time.perf_counter()
    columns: dict[str, list] = {
        name: []
        for name in (
            "file_id", "repo", "path", "lang", "size", "content", "content_sha256",
            "encoding", "is_generated", "is_vendor", "drop_reason", "source",
        )
    }  # fmt: skip
    for repo_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        repo = repo_dir.name
        for folder, dirs, names in os.walk(repo_dir):
            dirs[:] = sorted(d for d in dirs if d not in {".git", ".hg", ".svn"})
            for name in sorted(names):
                full = os.path.join(folder, name)
                rel = os.path.relpath(full, repo_dir).replace(os.sep, "/")
                info = os.lstat(full)
                data, text, encoding, reason = None, None, None, None
                if stat.S_ISLNK(info.st_mode):
                    reason = DropReason.INTAKE_SYMLINK
                elif not stat.S_ISREG(info.st_mode):
                    reason = DropReason.INTAKE_UNREADABLE
                elif info.st_size > intake.max_file_bytes:
                    reason = DropReason.INTAKE_TOO_LARGE
                else:
                    with open(full, "rb") as stream:
                        data = stream.read()
                    text, encoding, reason = decode(data, intake.binary_sniff_bytes)
                head = (data or b"")[:CLASSIFY_BYTES]
                columns["file_id"].append(file_id(repo, rel))
                columns["repo"].append(repo)
                columns["path"].append(rel)
                columns["lang"].append(identify(rel, data))
                columns["size"].append(info.st_size)
                columns["content"].append(text)
                columns["content_sha256"].append(
                    hashlib.sha256(data).hexdigest() if data is not None else None
                )
                columns["encoding"].append(encoding)
                columns["is_generated"].append(bool(enry.is_generated(rel, head)))
                columns["is_vendor"].append(bool(enry.is_vendor(rel)))
                columns["drop_reason"].append(str(reason) if reason is not None else None)
                columns["source"].append(str(repo_dir))
    table = pa.table(columns)
    for stage in further:
        table = stage(table)
    pq.write_table(table, out, compression="zstd")
    seconds = time.perf_counter() - start
    kept = table.column("drop_reason").null_count
    return {"seconds": seconds, "files": table.num_rows, "kept": kept}
