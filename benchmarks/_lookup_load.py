"""Load generators for `benchmarks.lookup`: `wrk` (compiled, preferred) or, where it is not
installed, processes of httpx clients. Either runs pinned to CPUs apart from the server's
so that the generator does not eat the CPU it measures."""

import asyncio
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Each wrk thread cycles through the bodies (one JSON document a line) from its own start;
#: `done` prints the figures on one line (latencies in microseconds).
WRK_SCRIPT = """
local bodies = {}
for line in io.lines(os.getenv("LOOKUP_BODIES")) do bodies[#bodies + 1] = line end
local counter = 1
local threads = {}
function setup(thread)
  thread:set("first", #threads * 7919)
  table.insert(threads, thread)
end
function init(args)
  counter = first or 0
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
function request()
  counter = counter + 1
  return wrk.format(nil, nil, nil, bodies[(counter % #bodies) + 1])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), latency.max, e.status,
    e.connect + e.read + e.write + e.timeout))
end
"""


@dataclass(frozen=True)
class Run:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    tool: str

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def pinned(command: list[str], cpus: str | None) -> list[str]:
    return ["taskset", "-c", cpus, *command] if cpus and shutil.which("taskset") else command


def run_wrk(
    url: str, bodies: Path, clients: int, seconds: float, threads: int, cpus: str | None
) -> Run:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{clients}",
        f"-d{seconds:g}s",
        "--timeout",
        "30s",
        "-s",
        script.name,
        url,
    ]
    done = subprocess.run(
        pinned(command, cpus),
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "LOOKUP_BODIES": str(bodies)},
    )
    os.unlink(script.name)
    found = re.search(r"^RESULT (.*)$", done.stdout, re.MULTILINE)
    if not found:
        raise RuntimeError(f"wrk printed no result:\n{done.stdout}\n{done.stderr}")
    n, micros, p50, p99, top, status, socket = (int(v) for v in found.group(1).split())
    return Run(n, micros / 1e6, p50 / 1e3, p99 / 1e3, top / 1e3, status + socket, "wrk")


def _client_process(url: str, bodies: list[str], clients: int, seconds: float, queue) -> None:
    import httpx

    async def main() -> tuple[list[float], int]:
        latencies: list[float] = []
        errors = 0
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        end = time.perf_counter() + seconds
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:

            async def worker(start: int) -> None:
                nonlocal errors
                i = start
                while time.perf_counter() < end:
                    i += 1
                    began = time.perf_counter()
                    answer = await client.post(
                        url,
                        content=bodies[i % len(bodies)],
                        headers={"content-type": "application/json"},
                    )
                    latencies.append(time.perf_counter() - began)
                    errors += answer.status_code != 200

            await asyncio.gather(*(worker(k * 7919) for k in range(clients)))
        return latencies, errors

    queue.put(asyncio.run(main()))


def run_httpx(
    url: str, bodies: Path, clients: int, seconds: float, processes: int, cpus: str | None
) -> Run:
    """`processes` client processes sharing `clients` connections (pinned with `cpus`)."""
    lines = bodies.read_text().splitlines()
    queue = multiprocessing.get_context("spawn").Queue()
    context = multiprocessing.get_context("spawn")
    share = [clients // processes + (k < clients % processes) for k in range(processes)]
    workers = [
        context.Process(target=_client_process, args=(url, lines, c, seconds, queue))
        for c in share
        if c
    ]
    started = time.perf_counter()
    for w in workers:
        w.start()
        if cpus:
            os.sched_setaffinity(w.pid, {int(c) for c in cpus.split(",")})
    results = [queue.get() for _ in workers]
    wall = time.perf_counter() - started
    for w in workers:
        w.join()
    ms = np.array([x for lat, _ in results for x in lat]) * 1000
    return Run(
        len(ms),
        wall,
        float(np.percentile(ms, 50)),
        float(np.percentile(ms, 99)),
        float(ms.max()),
        sum(e for _, e in results),
        f"httpx x{len(workers)}",
    )


def run_load(
    url: str, bodies: Path, clients: int, seconds: float, cpus: str | None, tool: str = "auto"
) -> Run:
    threads = max(1, len(cpus.split(",")) if cpus else 2)
    if tool == "wrk" or (tool == "auto" and shutil.which("wrk")):
        return run_wrk(url, bodies, clients, seconds, threads, cpus)
    return run_httpx(url, bodies, clients, seconds, threads, cpus)


def write_bodies(path: Path, texts: list[str]) -> Path:
    path.write_text("".join(json.dumps({"content": t}) + "\n" for t in texts))
    return path
