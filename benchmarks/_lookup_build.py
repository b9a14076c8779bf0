"""The lookup benchmark's index: signatures of real files on this machine, the index built in
process (and in Redis) with its figures, written as the lookup index of a small real
curated version (`benchmarks.lookup`)."""

import hashlib
import json
import os
import random
import sys
import time
from pathlib import Path

import numpy as np
import psutil

from benchmarks._lookup_load import write_bodies

#: Where real text files are read from: installed Python (the venv and the interpreter it is
#: based on), system data and headers, and toolchains' sources and docs when present.
ROOTS = [
    Path(sys.prefix) / "lib",
    Path(sys.base_prefix) / "lib",
    Path("/usr/share"),
    Path("/usr/lib"),
    Path("/usr/include"),
    Path("/usr/local"),
    Path("/opt"),
    Path.home() / ".rustup",
]


def real_texts(limit: int) -> list[tuple[str, str]]:
    """(path, text) of up to `limit` distinct UTF-8 text files of 128 B - 256 KB."""
    seen, out = set(), []
    for root in ROOTS:
        for folder, _, names in os.walk(root):
            for name in names:
                path = os.path.join(folder, name)
                try:
                    if not 128 <= os.path.getsize(path) <= 256_000 or os.path.islink(path):
                        continue
                    with open(path, "rb") as handle:
                        data = handle.read()
                except OSError:
                    continue
                digest = hashlib.blake2b(data, digest_size=16).digest()
                if b"\0" in data[:1024] or digest in seen:
                    continue
                try:
                    out.append((path, data.decode("utf-8")))
                except UnicodeDecodeError:
                    continue
                seen.add(digest)
                if len(out) >= limit:
                    return out
    return out


def small_version(home: Path) -> None:
    """A real curated version to hang the big index on (one small repo)."""
    import idna

    from corpus.core.cluster import RunnerConfig
    from corpus.core.settings import Settings
    from corpus.pipeline.curate import curate
    from corpus.pipeline.ingest import ingest
    from corpus.sources import Layout
    from corpus.store.catalog import Catalog

    catalog = Catalog(Settings(home=home))
    runner = RunnerConfig(workers=1, partitions=1)
    ingest([str(Path(idna.__file__).parent)], "bench", catalog, runner=runner, layout=Layout.REPO)
    curate("bench", "v1", catalog, runner=runner)


def held_out(texts: list[str], count: int, rng: random.Random) -> list[str]:
    picks = []
    while len(picks) < count:
        lines = rng.choice(texts).splitlines()
        if len(lines) >= 20:
            picks.append("\n".join(line for i, line in enumerate(lines) if i % 10 != 3))
    return picks


def build_figures(home: Path, files: int, redis_url: str) -> dict:
    """Signatures of real files, the index built in process (and in Redis), its figures; the
    index written as the lookup index of `bench@v1` under `home`, queries next to it."""
    from corpus.core.settings import Settings
    from corpus.core.storage import write_bytes
    from corpus.store.catalog import Catalog
    from corpus.store.lookup_index import _identity, index_folder
    from corpus.store.versions import Registry
    from dedup.config import DedupConfig
    from dedup.index import Entry, IndexParams, MemoryIndex

    found = real_texts(files)
    texts = [t for _, t in found]
    params = IndexParams.from_config(DedupConfig())
    started = time.perf_counter()
    signatures, _ = params.hasher().signatures(texts)
    sig_seconds = time.perf_counter() - started
    entries = [
        Entry(f"{i:032x}", Path(p).parent.name, p, None, None) for i, (p, _) in enumerate(found)
    ]
    rows = np.arange(len(entries))
    rss = psutil.Process().memory_info().rss
    started = time.perf_counter()
    index = MemoryIndex.build(params, {}, entries, rows, signatures)
    memory_rate = len(entries) / (time.perf_counter() - started)
    memory_per_file = (psutil.Process().memory_info().rss - rss) / len(entries)
    figures = {
        "files": len(entries),
        "signatures": index.manifest["signatures"],
        "signature_seconds": sig_seconds,
        "memory_rate": memory_rate,
        "memory_per_file": memory_per_file,
        "redis_rate": None,
        "redis_per_file": None,
        "cpus": psutil.cpu_count(),
    }
    if redis_url:
        figures.update(redis_figures(redis_url, params, entries, rows, signatures))

    small_version(home)
    catalog = Catalog(Settings(home=home))
    version = Registry(catalog, "bench").get("v1")
    folder = index_folder(catalog.settings, "bench", "v1")
    index.manifest = {
        **_identity("bench", version),
        "storage": "memory",
        "file": "index.pkl",
        "signatures": figures["signatures"],
        "files": len(entries),
        "params": params.to_dict(),
    }
    data = index.dumps()
    figures["pickle_bytes"] = len(data)
    write_bytes(f"{folder}/index.pkl", data)
    write_bytes(f"{folder}/manifest.json", json.dumps(index.manifest).encode())
    write_bodies(home / "queries.jsonl", held_out(texts, 4000, random.Random(0)))
    (home / "build.json").write_text(json.dumps(figures))
    return figures


def redis_figures(url: str, params, entries, rows, signatures) -> dict:
    """Build rate and `used_memory` growth per file of the Redis index, under a root of its
    own (deleted after; other keys in the database are left alone). The build gets a long
    socket timeout: the service's 2 s is for queries, and a shared Redis may be slow."""
    try:
        import redis

        from dedup.index_redis import RedisIndex, _drop_prefix

        client = redis.Redis.from_url(url, socket_timeout=600)
        root = f"codecorpus:lookup:bench-{os.getpid()}:v1"
        build_url = url + ("&" if "?" in url else "?") + "socket_timeout=600"
        used = client.info("memory")["used_memory"]
        started = time.perf_counter()
        index = RedisIndex.build(build_url, root, params, {}, entries, rows, signatures)
        rate = len(entries) / (time.perf_counter() - started)
        per_file = (client.info("memory")["used_memory"] - used) / len(entries)
        _drop_prefix(client, index.prefix)
        client.delete(f"{root}:current")
        return {"redis_rate": rate, "redis_per_file": per_file}
    except Exception as exc:  # no Redis here: report the in-process figures only
        print(f"Redis skipped: {exc}")
        return {}


def redis_only(home: Path, figures: dict, url: str) -> dict:
    """The Redis figures of a prepared home that lacks them (same files, same signatures)."""
    from dedup.config import DedupConfig
    from dedup.index import Entry, IndexParams

    found = real_texts(figures["files"])
    params = IndexParams.from_config(DedupConfig())
    signatures, _ = params.hasher().signatures([t for _, t in found])
    entries = [
        Entry(f"{i:032x}", Path(p).parent.name, p, None, None) for i, (p, _) in enumerate(found)
    ]
    figures = {
        **figures,
        **redis_figures(url, params, entries, np.arange(len(entries)), signatures),
    }
    (home / "build.json").write_text(json.dumps(figures))
    return figures
