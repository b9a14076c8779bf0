"""Intake settings: which bytes become text, and the limits on what one source may hold."""

from dataclasses import dataclass

from corpus.core.config import ConfigBase
from corpus.core.errors import ConfigError

MiB = 1 << 20


@dataclass(frozen=True)
class IntakeConfig(ConfigBase):
    section = "intake"

    max_file_bytes: int = 1 * MiB
    """Files larger than this are kept as rows with `intake:too_large` and no content."""
    binary_sniff_bytes: int = 8000
    """A NUL byte in this many leading bytes marks a file binary (git's rule)."""
    max_archive_bytes: int = 4096 * MiB
    """Uncompressed bytes read from one archive; later members get `intake:archive_limit`."""
    max_archive_members: int = 1_000_000
    """Members read from one archive; later members get `intake:archive_limit`."""

    def __post_init__(self) -> None:
        for name in ("max_file_bytes", "binary_sniff_bytes", "max_archive_bytes"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"intake.{name} must be positive, got {getattr(self, name)}")
        if self.max_archive_members <= 0:
            raise ConfigError("intake.max_archive_members must be positive")
