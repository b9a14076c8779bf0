"""The lookup index in Redis, through datasketch's Redis storage (the service at scale).

Layout under `<root>` (`codecorpus:lookup:<dataset>:<version>`):

- `<root>:<build>_bucket_*`, `<root>:<build>_keys`: datasketch's band tables;
- `<root>:<build>:cand`: candidate number -> packed signature + JSON entry;
- `<root>:<build>:sha`, `<root>:<build>:repos`: exact-match and repository tables;
- `<root>:<build>:sigrow`: content hash -> its first candidate number (`signatures_of`);
- `<root>:current`: the manifest of the finished build, set last with NX.

A build writes under a fresh `<build>` id and publishes it with one `SET ... NX`, so a
build that dies half way leaves nothing visible (its keys are deleted on the way
out when Redis is still reachable) and a second build of the same version is refused:
indexes are immutable. A connection failure is `IndexUnavailable` (the API's 503);
redis-py reconnects on the next command, so service resumes without a rebuild as soon
as Redis is back with its data.
"""

import json
import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np

from dedup.index import (
    FORMAT,
    Entry,
    IndexParams,
    LookupIndexError,
    NearMatch,
    first_rows,
    is_empty,
    lean,
    sha_and_repo_tables,
    verify,
)
from dedup.minhash import EMPTY

#: Socket timeouts (seconds): a dead Redis must fail a request fast, not hang it.
TIMEOUT = 2.0
BATCH = 5000

#: The stored signatures of content hashes in one round trip: hash -> candidate number ->
#: the first `ARGV[1]` bytes of its packed row (the signature), nil when not indexed.
SIGNATURES_OF = """
local out = {}
local width = tonumber(ARGV[1])
for i = 2, #ARGV do
  local j = redis.call('HGET', KEYS[1], ARGV[i])
  if j then out[i - 1] = string.sub(redis.call('HGET', KEYS[2], j), 1, width)
  else out[i - 1] = false end
end
return out
"""


class IndexUnavailable(LookupIndexError):
    """Redis cannot be reached or no longer holds the index; retry, restore or rebuild."""


class IndexExists(LookupIndexError):
    """The version already has an index; indexes are immutable."""


def redis_options(url: str) -> dict[str, Any]:
    from redis.connection import parse_url

    options = parse_url(url)
    options.setdefault("socket_timeout", TIMEOUT)
    options.setdefault("socket_connect_timeout", TIMEOUT)
    return options


def _errors() -> tuple[type[BaseException], ...]:
    import redis

    return (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def _unavailable(url: str, exc: BaseException) -> IndexUnavailable:
    return IndexUnavailable(
        f"the lookup index's Redis at {url} cannot be reached ({exc}); "
        "retry when it is back (CODECORPUS_LOOKUP_REDIS_URL names it)"
    )


class RedisIndex:
    storage = "redis"

    def __init__(self, url: str, root: str, manifest: dict[str, Any]) -> None:
        import redis

        self.url = url
        self.root = root
        self.manifest = manifest
        self.params = IndexParams(**manifest["params"])
        self.prefix = manifest["prefix"]
        self.client = redis.Redis(**redis_options(url))
        config = {"type": "redis", "basename": self.prefix.encode(), "redis": redis_options(url)}
        self.lsh = self.params.lsh(config)

    @classmethod
    def open(cls, url: str, root: str) -> "RedisIndex | None":
        """The published index under `root`, or None when there is none."""
        import redis

        client = redis.Redis(**redis_options(url))
        try:
            raw = client.get(f"{root}:current")
        except _errors() as exc:
            raise _unavailable(url, exc) from exc
        finally:
            client.close()
        if raw is None:
            return None
        manifest = json.loads(raw)
        if manifest.get("format") != FORMAT:
            raise LookupIndexError(
                f"the Redis index {root} has another format; rebuild it with --force"
            )
        return cls(url, root, manifest)

    @classmethod
    def build(
        cls,
        url: str,
        root: str,
        params: IndexParams,
        manifest: dict[str, Any],
        entries: list[Entry],
        candidate_rows: np.ndarray,
        signatures: np.ndarray,
        force: bool = False,
    ) -> "RedisIndex":
        import redis

        client = redis.Redis(**redis_options(url))
        prefix = f"{root}:{uuid.uuid4().hex[:12]}"
        keep = ~np.all(signatures == EMPTY, axis=1)
        signatures = np.ascontiguousarray(signatures[keep], dtype="<u4")
        rows = candidate_rows[keep]
        by_row = first_rows([entries[int(r)] for r in rows])
        manifest = {
            **manifest,
            "prefix": prefix,
            "signatures": len(rows),
            "sha_signatures": len(by_row),
            "format": FORMAT,
            "params": params.to_dict(),
        }
        try:
            if client.exists(f"{root}:current") and not force:
                raise IndexExists(f"{root} already has an index; indexes are immutable "
                                  "(--force replaces it)")  # fmt: skip
            config = {"type": "redis", "basename": prefix.encode(), "redis": redis_options(url)}
            lsh = params.lsh(config)
            with lsh.insertion_session(buffer_size=BATCH) as session:
                for j, row in enumerate(signatures):
                    session.insert(j, lean(row, params.seed), check_duplication=False)
            pipe = client.pipeline(transaction=False)
            for j, row in enumerate(rows):
                pipe.hset(f"{prefix}:cand", str(j), _pack(signatures[j], entries[int(row)]))
                if j % BATCH == BATCH - 1:
                    pipe.execute()
            for n, (sha, j) in enumerate(by_row.items()):
                pipe.hset(f"{prefix}:sigrow", sha, str(j))
                if n % BATCH == BATCH - 1:
                    pipe.execute()
            by_sha, repos = sha_and_repo_tables(entries)
            for n, (sha, found) in enumerate(by_sha.items()):
                pipe.hset(f"{prefix}:sha", sha, json.dumps([e.to_list() for e in found]))
                if n % BATCH == BATCH - 1:
                    pipe.execute()
            for repo, counts in repos.items():
                pipe.hset(f"{prefix}:repos", repo, json.dumps(counts))
            pipe.execute()
            old = client.get(f"{root}:current") if force else None
            published = client.set(f"{root}:current", json.dumps(manifest), nx=not force)
            if not published:
                raise IndexExists(f"another build published {root} first; indexes are immutable")
        except BaseException:
            _drop_prefix(client, prefix)
            raise
        if old is not None:
            _drop_prefix(client, json.loads(old)["prefix"])
        client.close()
        return cls(url, root, manifest)

    def _call(self, fn, *args):
        try:
            return fn(*args)
        except _errors() as exc:
            raise _unavailable(self.url, exc) from exc

    def check(self) -> None:
        """That Redis still holds this build (after a restart it may come back empty)."""
        current = self._call(self.client.get, f"{self.root}:current")
        if current is None or json.loads(current)["prefix"] != self.prefix:
            raise IndexUnavailable(
                f"Redis at {self.url} no longer holds the lookup index {self.root} (restarted "
                "without its data?); restore its dump or rebuild with `codecorpus index build`"
            )

    def near(
        self, signature: np.ndarray, min_jaccard: float, limit: int | None = None
    ) -> list[NearMatch]:
        if is_empty(signature):
            return []
        rows = self._call(self.lsh.query, lean(signature, self.params.seed))
        if not rows:
            return []
        packed = self._call(self.client.hmget, f"{self.prefix}:cand", [str(j) for j in rows])
        width = self.params.num_perm * 4
        present = [p for p in packed if p is not None]
        stored = np.frombuffer(b"".join(p[:width] for p in present), dtype="<u4")
        entries = [Entry.from_list(json.loads(p[width:])) for p in present]
        stored = stored.reshape(len(present), self.params.num_perm)
        return verify(signature, list(range(len(present))), stored, entries, min_jaccard, limit)

    def exact(self, sha256: str) -> list[Entry]:
        raw = self._call(self.client.hget, f"{self.prefix}:sha", sha256)
        return [Entry.from_list(v) for v in json.loads(raw)] if raw else []

    def repo(self, name: str) -> tuple[int, int] | None:
        raw = self._call(self.client.hget, f"{self.prefix}:repos", name)
        return tuple(json.loads(raw)) if raw else None  # type: ignore[return-value]

    def signatures_of(self, shas: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(found mask, [n, num_perm] signatures) of content hashes, zeros where not found: one
        round trip for all of them (an EVAL per `BATCH` hashes, pipelined; EVALSHA through
        redis-py's `Script` would add a SCRIPT EXISTS round trip to every pipeline)."""
        width = self.params.num_perm * 4
        keys = (f"{self.prefix}:sigrow", f"{self.prefix}:cand")
        pipe = self.client.pipeline(transaction=False)
        for start in range(0, len(shas), BATCH):
            pipe.eval(SIGNATURES_OF, len(keys), *keys, width, *shas[start : start + BATCH])
        replies = self._call(pipe.execute) if shas else []
        packed = [value for reply in replies for value in reply]
        found = np.array([value is not None for value in packed], dtype=bool)
        out = np.zeros((len(packed), self.params.num_perm), dtype=np.uint32)
        if found.any():
            data = b"".join(value for value in packed if value is not None)
            out[found] = np.frombuffer(data, dtype="<u4").reshape(-1, self.params.num_perm)
        return found, out


def _pack(signature: np.ndarray, entry: Entry) -> bytes:
    return signature.astype("<u4").tobytes() + json.dumps(entry.to_list()).encode()


def _drop_prefix(client, prefix: str) -> None:
    """Delete a build's keys (best effort: a dead Redis keeps them, unpublished)."""
    try:
        batch = []
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                client.delete(*batch)
                batch = []
        if batch:
            client.delete(*batch)
    except _errors():
        pass
