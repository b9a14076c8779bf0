"""Real near-duplicates installed here: vendored copies of libraries (pip's and setuptools'
`_vendor`) next to the library itself, at another release. Nothing is downloaded."""

import sysconfig
from pathlib import Path

SITE = Path(sysconfig.get_paths()["purelib"])
VENDORS = [SITE / "pip" / "_vendor", SITE / "setuptools" / "_vendor"]
SUFFIXES = {".py", ".pyi", ".txt", ".rst", ".md"}


def _text(path: Path) -> str | None:
    try:
        text = path.read_text("utf-8")
    except (UnicodeDecodeError, OSError):
        return None
    return text if len(text) >= 200 else None


def vendored_pairs() -> list[tuple[str, str, str]]:
    """(name, library file, vendored copy) for every vendored file whose library is installed."""
    pairs = []
    for vendor in VENDORS:
        for copy in sorted(vendor.rglob("*")):
            if copy.suffix not in SUFFIXES or "__pycache__" in copy.parts or not copy.is_file():
                continue
            rel = copy.relative_to(vendor)
            original = SITE / rel
            if original == copy or not original.is_file():
                continue
            a, b = _text(original), _text(copy)
            if a is not None and b is not None:
                pairs.append((f"{vendor.parent.name}:{rel}", a, b))
    return pairs
