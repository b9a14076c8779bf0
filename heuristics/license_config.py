"""Configuration of the license allow-list rule (a leaf: the pipeline config imports it)."""

from dataclasses import dataclass, field

from corpus.core.config import ConfigBase
from corpus.core.errors import ConfigError


@dataclass(frozen=True)
class LicenseConfig(ConfigBase):
    section = "licenses"

    allow: list[str] | None = None
    """SPDX ids allowed; None = every license ScanCode files under Permissive or Public Domain
    (MIT, Apache-2.0, BSD-*, ISC, Unlicense, CC0-1.0, CC-BY-*, 0BSD, MIT-0, WTFPL, ...)."""
    deny: list[str] = field(default_factory=list)
    """SPDX ids removed from the allow-list (e.g. CC-BY-4.0 for code-only corpora)."""
    honour_opt_out: bool = True
    """Drop files matched by the opt-out registry (`governance:opt_out`)."""

    def __post_init__(self) -> None:
        for name in ("allow", "deny"):
            value = getattr(self, name)
            if value is not None and (
                not isinstance(value, list) or not all(isinstance(v, str) for v in value)
            ):
                raise ConfigError(f"licenses.{name} must be a list of SPDX ids, got {value!r}")
