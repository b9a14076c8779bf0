"""Real files in every reference language, and one small tokenizer trained on them."""

from pathlib import Path

import pyarrow as pa
import pytest

from corpus.core.schema import file_id
from tests.language_samples import collect
from tokenizer.config import TokenizerConfig
from tokenizer.train import TrainedTokenizer, train_tokenizer

#: The reference recipe's top-20 languages.
REFERENCE_LANGUAGES = (
    "Markdown", "Java", "JavaScript", "Python", "TypeScript", "PHP", "SQL", "JSX",
    "reStructuredText", "Rust", "C", "CSS", "Go", "C++", "HTML", "Vue", "Ruby",
    "Jupyter Notebook", "R", "Shell",
)  # fmt: skip

#: Small enough to train in about two seconds on the ~8 MB of real files.
SMALL_CONFIG = TokenizerConfig(vocab_size=3000, num_threads=2)


@pytest.fixture(scope="session")
def real_files() -> pa.Table:
    """file_id, repo (the file's folder), path, lang, content of the labelled real files
    (tests/language_samples.py) and hand-made fixtures: all 20 reference languages."""
    rows = []
    for path, lang in collect():
        text = Path(path).read_bytes().decode("utf-8", errors="replace")
        repo = str(Path(path).parent)
        rows.append({"file_id": file_id(repo, path), "repo": repo, "path": path,
                     "lang": lang, "content": text})  # fmt: skip
    return pa.Table.from_pylist(rows)


@pytest.fixture(scope="session")
def trained(real_files: pa.Table) -> TrainedTokenizer:
    pairs = zip(real_files["lang"].to_pylist(), real_files["content"].to_pylist(), strict=True)
    return train_tokenizer(pairs, SMALL_CONFIG)
