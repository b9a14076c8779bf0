"""Public shapes of the lookup routes."""

from typing import Any

from pydantic import BaseModel, Field, model_validator
from pydantic_core import to_json


class LookupFile(BaseModel):
    name: str | None = Field(default=None, max_length=1000, description="Your name for the file")
    content: str = Field(description="The file's text")


class LookupRequest(BaseModel):
    content: str | None = Field(default=None, description="One file's text")
    files: list[LookupFile] | None = Field(
        default=None, min_length=1, description="Several files (at most the service's maximum)"
    )
    min_jaccard: float | None = Field(
        default=None,
        le=1.0,
        description="Lowest estimated Jaccard answered; default and minimum: the index threshold",
    )
    limit: int = Field(default=10, ge=1, le=100, description="Near matches per file")
    exact_jaccard: bool = Field(
        default=False,
        description="Also the exact Jaccard over shingles, for matches whose "
        "content the version stores (kept files); costs a read of their content",
    )
    include_content: bool = Field(
        default=False, description="Return the matched files' content (read scope only)"
    )

    @model_validator(mode="after")
    def _one_of(self) -> "LookupRequest":
        if (self.content is None) == (self.files is None):
            raise ValueError("give either `content` (one file) or `files` (a list), not both")
        return self


class MatchOut(BaseModel):
    file_id: str
    repo: str
    path: str
    kept: bool
    drop_reason: str | None
    estimated_jaccard: float | None = None
    exact_jaccard: float | None = None
    content: str | None = None


class FileResult(BaseModel):
    name: str | None
    sha256: str
    tokens: int
    exact: list[MatchOut]
    near: list[MatchOut]


class LookupAnswer(BaseModel):
    dataset: str
    version: str
    threshold: float
    indexed_files: int
    results: list[FileResult]
    opt_out: str

    @staticmethod
    def json_bytes(
        dataset: str,
        version: str,
        index: Any,
        answers: list[Any],
        contents: dict[str, str],
        opt_out: str,
    ) -> bytes:
        """The answer's JSON, this model's shape, serialised straight from plain values:
        building the models and having FastAPI validate them again cost more than the
        lookup itself (a test checks the bytes against the model)."""

        def out(entry: Any, estimated: float | None = None, exact: float | None = None):
            return {
                "file_id": entry.file_id,
                "repo": entry.repo,
                "path": entry.path,
                "kept": entry.drop_reason is None,
                "drop_reason": entry.drop_reason,
                "estimated_jaccard": estimated,
                "exact_jaccard": exact,
                "content": contents.get(entry.file_id),
            }

        results = [
            {
                "name": a.name,
                "sha256": a.sha256,
                "tokens": a.tokens,
                "exact": [out(e) for e in a.exact],
                "near": [
                    out(m.entry, m.estimated_jaccard, a.exact_jaccard.get(m.entry.file_id))
                    for m in a.near
                ],
            }
            for a in answers
        ]
        return to_json(
            {
                "dataset": dataset,
                "version": version,
                "threshold": index.params.threshold,
                "indexed_files": index.manifest.get("files", 0),
                "results": results,
                "opt_out": opt_out,
            }
        )


class RepoAnswer(BaseModel):
    dataset: str
    version: str
    repo: str
    contributed: bool
    files: int
    kept: int
    opt_out: str
