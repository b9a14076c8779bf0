"""codecorpus's corpus package: the facts about files (sources, intake, language, licenses)
and their life in the catalog (ingest, curate, versions, mixtures), with its Python API
(`corpus.open_catalog`, `corpus.read_files`, ...) and the `codecorpus` CLI.

The API names are loaded on first use (PEP 562): `import corpus.core.errors` runs this file
first, and must not pay for pyiceberg, Ray or torch.
"""

from typing import Any

__version__ = "0.1.0"

__all__ = [
    "create_mixture",
    "curate",
    "get_mixture",
    "get_version",
    "ingest",
    "list_datasets",
    "list_shards",
    "list_versions",
    "open_catalog",
    "read_decisions",
    "read_files",
    "train",
    "version_stats",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from corpus import public

        return getattr(public, name)
    raise AttributeError(f"module 'corpus' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
