"""A real sample corpus built offline from the Python distributions installed here.

Each installed distribution becomes one repository folder holding its files
(sources, vendored copies, data, compiled extensions) and its metadata
(METADATA, LICENSE files): real code under real licenses, with real
near-duplicates, and nothing downloaded.
"""

import os
import re
import shutil
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path


@dataclass(frozen=True)
class SampleRepo:
    name: str
    files: int
    bytes: int


def installed_distributions(names: list[str] | None = None) -> list[metadata.Distribution]:
    """Installed distributions sorted by normalised name (optionally only `names`)."""
    wanted = {_normalise(n) for n in names} if names else None
    found: dict[str, metadata.Distribution] = {}
    for dist in metadata.distributions():
        name = _normalise(dist.metadata["Name"] or "")
        if name and (wanted is None or name in wanted):
            found.setdefault(name, dist)
    return [found[n] for n in sorted(found)]


def build_sample_corpus(
    dest: Path,
    max_bytes: int = 64 << 20,
    names: list[str] | None = None,
    copies: int = 1,
) -> list[SampleRepo]:
    """Lay out distributions as `dest/<name>-<version>/...` until `max_bytes` are used.

    Files are hard-linked when possible (instant, no extra disk) and copied
    otherwise. `copies` > 1 repeats the set under `-copyN` repo names, which
    scales the corpus up with exact duplicates for benchmarks.
    """
    dest.mkdir(parents=True, exist_ok=True)
    repos: list[SampleRepo] = []
    used = 0
    for copy in range(copies):
        for dist in installed_distributions(names):
            files = _dist_files(dist)
            size = sum(p.stat().st_size for _, p in files)
            if not files or used + size > max_bytes:
                continue
            suffix = f"-copy{copy}" if copy else ""
            name = f"{_normalise(dist.metadata['Name'])}-{dist.version}{suffix}"
            root = dest / name
            for rel, source in files:
                _place(source, root / rel)
            used += size
            repos.append(SampleRepo(name, len(files), size))
    return repos


def _dist_files(dist: metadata.Distribution) -> list[tuple[str, Path]]:
    """(path relative to site-packages, absolute path) of a distribution's regular files."""
    base = Path(str(dist.locate_file(""))).resolve()
    out = []
    for entry in dist.files or []:
        path = Path(str(dist.locate_file(entry))).resolve()
        try:
            rel = path.relative_to(base)  # skips scripts installed outside site-packages
        except ValueError:
            continue
        if path.is_file() and not path.is_symlink() and "__pycache__" not in rel.parts:
            out.append((rel.as_posix(), path))
    return sorted(out)


def _place(source: Path, target: Path) -> None:
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
