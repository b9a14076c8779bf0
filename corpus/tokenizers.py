"""Trained tokenizers in the warehouse, identified by the sha256 of their model bytes.

`<warehouse>/_tokenizers/<sha256>.model` is a plain SentencePiece model (any
SentencePiece loads it); `<sha256>.json` records its training config, sample and
source (dataset, version, raw snapshot). Writes go through pyarrow's file systems,
so the store works on local disk and on s3:// alike.
"""

import hashlib
import json
from typing import Any

import pyarrow.fs as pafs

from corpus.errors import CodecorpusError

MIN_PREFIX = 8


class TokenizerNotFound(CodecorpusError):
    """No stored tokenizer matches an id."""


class TokenizerStore:
    def __init__(self, warehouse: str) -> None:
        self.root = warehouse.rstrip("/") + "/_tokenizers"

    def save(self, model_bytes: bytes, record: dict[str, Any]) -> str:
        sha = hashlib.sha256(model_bytes).hexdigest()
        self._write(f"{self.root}/{sha}.model", model_bytes)
        self._write(
            f"{self.root}/{sha}.json",
            json.dumps({**record, "sha256": sha}, indent=2, sort_keys=True).encode(),
        )
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
        data = self._read(f"{self.root}/{sha}.model")
        if hashlib.sha256(data).hexdigest() != sha:
            raise CodecorpusError(f"stored tokenizer {sha} is corrupt (its sha256 differs)")
        return data

    def record(self, ident: str) -> dict[str, Any]:
        return json.loads(self._read(f"{self.root}/{self.resolve(ident)}.json"))

    def list(self) -> list[str]:
        fs, path = pafs.FileSystem.from_uri(self.root)
        infos = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
        return sorted(
            i.base_name.removesuffix(".model") for i in infos if i.base_name.endswith(".model")
        )

    @staticmethod
    def _write(uri: str, data: bytes) -> None:
        fs, path = pafs.FileSystem.from_uri(uri)
        fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
        with fs.open_output_stream(path + ".tmp") as stream:
            stream.write(data)
        fs.move(path + ".tmp", path)

    @staticmethod
    def _read(uri: str) -> bytes:
        fs, path = pafs.FileSystem.from_uri(uri)
        with fs.open_input_stream(path) as stream:
            return stream.read()
