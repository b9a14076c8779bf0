"""Trained tokenizers in the warehouse, identified by the sha256 of their model bytes.

`<warehouse>/_tokenizers/<sha256>.model` is a plain SentencePiece model (any
SentencePiece loads it); `<sha256>.json` records its training config, sample and
source (dataset, version, raw snapshot). Reads and writes go through
`corpus.core.storage`, so the store works on local disk and on s3:// alike; SentencePiece
loads models from bytes, so nothing needs a local copy.
"""

import hashlib
import json
from typing import Any

import pyarrow.fs as pafs

from corpus.core.errors import CodecorpusError
from corpus.core.storage import StorageError, explain, filesystem_for, read_bytes, write_bytes

MIN_PREFIX = 8


class TokenizerNotFound(CodecorpusError):
    """No stored tokenizer matches an id."""


class TokenizerStore:
    def __init__(self, warehouse: str) -> None:
        self.root = warehouse.rstrip("/") + "/_tokenizers"

    def save(self, model_bytes: bytes, record: dict[str, Any]) -> str:
        sha = hashlib.sha256(model_bytes).hexdigest()
        # the record first: a listed .model always has its record
        write_bytes(
            f"{self.root}/{sha}.json",
            json.dumps({**record, "sha256": sha}, indent=2, sort_keys=True).encode(),
        )
        write_bytes(f"{self.root}/{sha}.model", model_bytes)
        return sha

    def resolve(self, ident: str) -> str:
        """The full sha256 of the stored tokenizer `ident` names (a sha256 or a prefix)."""
        ident = ident.strip().lower()
        if len(ident) < MIN_PREFIX:
            raise TokenizerNotFound(f"tokenizer id {ident!r} is too short: give >= 8 hex digits")
        matches = [sha for sha in self.list() if sha.startswith(ident)]
        if not matches:
            raise TokenizerNotFound(
                f"no stored tokenizer {ident!r}; `codecorpus tokenizer list` shows them"
            )
        if len(matches) > 1:
            raise TokenizerNotFound(f"tokenizer id {ident!r} is ambiguous: {matches}")
        return matches[0]

    def model_path(self, sha: str) -> str:
        return f"{self.root}/{self.resolve(sha)}.model"

    def load(self, ident: str) -> bytes:
        sha = self.resolve(ident)
        data = read_bytes(f"{self.root}/{sha}.model")
        if hashlib.sha256(data).hexdigest() != sha:
            raise CodecorpusError(f"stored tokenizer {sha} is corrupt (its sha256 differs)")
        return data

    def record(self, ident: str) -> dict[str, Any]:
        return json.loads(read_bytes(f"{self.root}/{self.resolve(ident)}.json"))

    def list(self) -> list[str]:
        fs, path = filesystem_for(self.root)
        try:
            infos = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
        except OSError as exc:
            raise StorageError(f"cannot list tokenizers in {self.root}: {explain(exc)}") from exc
        return sorted(
            i.base_name.removesuffix(".model") for i in infos if i.base_name.endswith(".model")
        )
