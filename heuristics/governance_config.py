"""Settings of the governance stage: PII and secrets redaction, benchmark decontamination."""

import re
from dataclasses import dataclass, field
from typing import Literal

from corpus.core.config import ConfigBase
from corpus.core.errors import ConfigError

#: Benchmarks that ship with the code (their items come from an installed wheel).
BUILT_IN_BENCHMARKS = ("humaneval",)
PII_KINDS = ("email", "ip_address", "key", "password")


@dataclass(frozen=True)
class PiiConfig(ConfigBase):
    section = "pii"

    mode: Literal["off", "redact", "drop"] = "redact"
    """`redact`: replace each found span with its placeholder (`<EMAIL>`, `<IP_ADDRESS>`,
    `<KEY>`, `<PASSWORD>`) and keep the file; `drop`: drop files with any (`governance:pii`);
    `off`: neither look nor count."""
    kinds: list[str] = field(default_factory=lambda: list(PII_KINDS))
    """Which kinds to look for: email, ip_address, key, password."""

    def __post_init__(self) -> None:
        unknown = sorted(set(self.kinds) - set(PII_KINDS))
        if unknown:
            raise ConfigError(f"pii.kinds has unknown kinds {unknown}; use any of {PII_KINDS}")


@dataclass(frozen=True)
class DecontamConfig(ConfigBase):
    section = "decontam"

    benchmarks: list[str] = field(default_factory=lambda: list(BUILT_IN_BENCHMARKS))
    """Built-in benchmarks whose files are dropped (`decontam:<name>`); [] turns it off."""
    files: dict[str, str] = field(default_factory=dict)
    """More benchmarks: name -> JSON-lines file (path or URI) whose rows hold a solution
    (`canonical_solution`, `solution`, `code`) and/or a prompt (`prompt`, `question`, `text`)."""
    code_ngram: int = 10
    """Code tokens per n-gram of the literal and identifier-blind (shape) matches."""
    word_ngram: int = 8
    """Words per n-gram of the docstring match."""
    overlap: float = 0.7
    """Share of an item's code n-grams a file must hold to match (literal or shape)."""
    docstring_overlap: float = 0.5
    """Share of an item's docstring n-grams a file must hold to match."""
    min_exact_chars: int = 50
    """Shortest solution, docstring or statement looked for as an exact substring."""
    min_ngrams: int = 8
    """Items with fewer distinct n-grams match only exactly (short solutions are idioms)."""

    def __post_init__(self) -> None:
        unknown = sorted(set(self.benchmarks) - set(BUILT_IN_BENCHMARKS))
        if unknown:
            raise ConfigError(
                f"decontam.benchmarks has unknown benchmarks {unknown}; built in: "
                f"{list(BUILT_IN_BENCHMARKS)} (name others under decontam.files)"
            )
        for name in self.files:
            if not re.fullmatch(r"[a-z0-9_]{1,40}", name) or name in BUILT_IN_BENCHMARKS:
                raise ConfigError(
                    f"decontam.files name {name!r} must be 1-40 of a-z, 0-9, _ and not a "
                    "built-in benchmark"
                )
        for name in ("code_ngram", "word_ngram", "min_exact_chars", "min_ngrams"):
            if getattr(self, name) < 1:
                raise ConfigError(f"decontam.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("overlap", "docstring_overlap"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ConfigError(f"decontam.{name} must be in (0, 1], got {getattr(self, name)}")

    @property
    def names(self) -> list[str]:
        return [*self.benchmarks, *sorted(self.files)]
