"""REST service under load: version stats and file listing vs a trivial endpoint.

uvicorn serves the real app on loopback in one process (with a trivial
`/trivial` endpoint added to the same app); a bounded asyncio load generator
with 64 concurrent clients runs in another process. For each endpoint: requests/s
and p50/p99 latency, median of several rounds. Target: stats >= 50% of the
trivial endpoint's requests/s with p99 < 100 ms. Run on two corpora of different
size to show that stats are served from version metadata (no scan). Each corpus is
served twice: as configured by default (serialized answers replayed by ETag) and
"cold", with that cache off, so every request rebuilds its answer.

    python -m benchmarks.api [--seconds 5] [--rounds 3] [--sizes 8,32]
"""

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import markdown_table, median, sample_corpus

CLIENTS = 64
SERVER = """
import sys, uvicorn
from api import create_app
from api.settings import ApiSettings
from corpus.core.settings import Settings
settings = ApiSettings(
    catalog=Settings(home=sys.argv[1]), anonymous_read=True, response_cache_mb=int(sys.argv[3])
)
app = create_app(settings)

@app.get("/trivial")
async def trivial():
    return {"ok": True}

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="error", access_log=False)
"""


def _prepare(home: Path, megabytes: int) -> None:
    """Ingest and curate a real sample corpus of about `megabytes` MB into `home`."""
    from corpus.core.cluster import RunnerConfig, ray_session
    from corpus.core.settings import Settings
    from corpus.pipeline.config import CurationConfig
    from corpus.pipeline.curate import curate
    from corpus.pipeline.ingest import ingest
    from corpus.sources import Layout
    from corpus.store.catalog import Catalog

    catalog = Catalog(Settings(home=home))
    if catalog.has_table("ds", "versions"):
        return
    corpus = home / "corpus"
    size = sample_corpus(corpus, megabytes)
    print(f"corpus {home.name}: {size.files:,} files, {size.mb:.1f} MB", flush=True)
    with ray_session(RunnerConfig(workers=2)):
        ingest([str(corpus)], "ds", catalog, layout=Layout.REPOS)
        curate("ds", "v1", catalog, CurationConfig.from_dict({"tokenizer": {"vocab_size": 4000}}))


def _read_key(home: Path) -> str:
    """A read-scoped API key for the keyed requests (created once per corpus)."""
    from api.keys import KeyStore
    from corpus.core.settings import Settings

    saved = home / "bench-token"
    if not saved.exists():
        saved.write_text(KeyStore(Settings(home=home)).create("bench", ["read"])[1])
    return saved.read_text()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _load(url: str, seconds: float, token: str = "") -> dict[str, float]:
    """64 keep-alive connections over raw asyncio streams, each sending GETs back to back.

    A bare HTTP/1.1 client: httpx's async client was itself the bottleneck at
    about 110 requests/s here, hiding the server's speed.
    """
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    request = f"GET {target} HTTP/1.1\r\nHost: {parts.hostname}\r\n{auth}\r\n".encode()
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            writer.write(request)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status, length = head.split(b" ", 2)[1], 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            errors += status != b"200"
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CLIENTS)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests_per_s": len(latencies) / elapsed,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "errors": errors,
        "requests": len(latencies),
    }


def _client(url: str, seconds: float, token: str = "") -> dict[str, float]:
    """The load generator runs in its own process (it must not share the server's)."""
    code = (
        "import asyncio, json, sys; from benchmarks.api import _load; "
        "print(json.dumps(asyncio.run(_load(sys.argv[1], float(sys.argv[2]), sys.argv[3]))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, url, str(seconds), token],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _wait(url: str) -> None:
    import httpx

    for _ in range(200):
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not come up")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", default="8,32", help="corpus sizes in MB")
    parser.add_argument("--work", default=None, help="folder for the corpora (kept between runs)")
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="codecorpus-api-bench-"))
    rows, results = [], {}
    for megabytes in [int(s) for s in args.sizes.split(",")]:
        home = work / f"home-{megabytes}mb"
        _prepare(home, megabytes)
        token = _read_key(home)
        # the default server replays serialized answers by ETag; "cold" turns that off,
        # so every request rebuilds its answer (the cost of a first request)
        for variant, cache_mb in (("", 64), (" cold", 0)):
            port = _free_port()
            server = subprocess.Popen(
                [sys.executable, "-c", SERVER, str(home), str(port), str(cache_mb)],
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            base = f"http://127.0.0.1:{port}"
            try:
                _wait(f"{base}/health")
                stats = f"{base}/v1/datasets/ds/versions/v1/stats?group_by=lang"
                endpoints = {
                    "trivial": (f"{base}/trivial", ""),
                    "stats": (stats, ""),
                    "stats keyed": (stats, token),  # a read key verified on every request
                    "files": (f"{base}/v1/datasets/ds/versions/v1/files?limit=100", ""),
                }
                if variant:  # trivial does not change, and a key costs the same cold
                    endpoints = {n + variant: endpoints[n] for n in ("stats", "files")}
                for name, (url, key) in endpoints.items():
                    _client(url, 1.0, key)  # warm caches and connections
                    rounds = [_client(url, args.seconds, key) for _ in range(args.rounds)]
                    result = {k: median([r[k] for r in rounds]) for k in rounds[0]}
                    results[f"{megabytes}mb/{name}"] = result
                    rows.append(
                        [
                            f"{megabytes} MB",
                            name,
                            f"{result['requests_per_s']:,.0f}",
                            f"{result['p50_ms']:.1f}",
                            f"{result['p99_ms']:.1f}",
                            int(result["errors"]),
                        ]
                    )
            finally:
                server.terminate()
                server.wait(timeout=30)
    print(f"\n## 64 concurrent clients, {args.seconds:.0f} s x {args.rounds} rounds (median)\n")
    print(markdown_table(["corpus", "endpoint", "requests/s", "p50 ms", "p99 ms", "errors"], rows))
    for key in sorted({k.split("/")[0] for k in results}):
        trivial = results[f"{key}/trivial"]
        for name in ("stats", "stats keyed", "stats cold"):
            stats = results[f"{key}/{name}"]
            ratio = stats["requests_per_s"] / trivial["requests_per_s"]
            verdict = "PASS" if ratio >= 0.5 and stats["p99_ms"] < 100 else "FAIL"
            print(
                f"- {key} {name}: {ratio:.0%} of the trivial endpoint's requests/s, "
                f"p99 {stats['p99_ms']:.1f} ms: {verdict} (target >= 50%, p99 < 100 ms)"
            )
    sizes = sorted({k.split("/")[0] for k in results}, key=lambda k: int(k[:-2]))
    if len(sizes) > 1:

        def share(size: str, name: str) -> float:  # of the trivial endpoint, same server run
            return (
                results[f"{size}/{name}"]["requests_per_s"]
                / results[f"{size}/trivial"]["requests_per_s"]
            )

        for name in ("stats", "stats cold"):
            print(
                f"- {name} from {sizes[0]} to {sizes[-1]}: {share(sizes[0], name):.0%} -> "
                f"{share(sizes[-1], name):.0%} of trivial, "
                f"{share(sizes[-1], name) / share(sizes[0], name):.2f}x "
                "(1.0 = independent of corpus size; shares, so machine noise cancels)"
            )
    out = Path(__file__).parent / "results" / "api.json"
    out.write_text(json.dumps(results, indent=1))
    print(f"results saved to {out}")


if __name__ == "__main__":
    main()
