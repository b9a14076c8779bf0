"""Curate runs publishing versions of one dataset at once on PostgreSQL.

Deterministic races first (a writer that commits between our load and our
commit; two registrations of one name), then eight `codecorpus curate`
processes (own drivers on a shared Ray) racing for real while a poller reads
the registry and every visible version's tables: a version it can see must be
whole. Two of the runs want the same name: exactly one wins.
"""

import json
import threading
import time
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest
import yaml

from corpus.core.errors import VersionExists, VersionInProgress
from corpus.core.settings import Settings
from corpus.pipeline.config import CurationConfig
from corpus.store.catalog import VERSIONS, Catalog
from corpus.store.locks import publish_lock
from corpus.store.versions import Registry
from tests.corpus.publish_checks import (
    check_run,
    codecorpus,
    decisions,
    expected_counts,
    incomplete_versions,
    pg_settings,
    row_counts,
    run_folders,
    settings_env,
)

pytestmark = pytest.mark.postgres

SCHEMA = pa.schema([pa.field("version", pa.string(), nullable=False), pa.field("n", pa.int64())])


@pytest.fixture(params=["postgresql", "sqlite"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """The catalog on a fresh PostgreSQL database, or on SQLite."""
    if request.param == "postgresql":
        return pg_settings(tmp_path, request.getfixturevalue("postgres_uri"))
    return Settings(home=tmp_path)


def _rows(version: str, n: int) -> pa.Table:
    return pa.Table.from_pylist([{"version": version, "n": n}], schema=SCHEMA)


def test_a_commit_that_loses_a_race_is_reapplied_on_the_winners_state(settings: Settings) -> None:
    ours, theirs = Catalog(settings), Catalog(settings)
    ours.ensure_table("ds", "t", SCHEMA)
    seen: list[int] = []

    def change(table, tx) -> int:
        rows = table.scan().to_arrow().num_rows  # our change depends on the state it sees
        seen.append(rows)
        if len(seen) == 1:  # another writer commits between our load and our commit
            theirs.commit("ds", "t", lambda _, their_tx: their_tx.append(_rows("theirs", 0)))
        tx.append(_rows("ours", rows))
        return rows

    assert ours.commit("ds", "t", change) == 1
    assert seen == [0, 1]  # the retry ran the change again, on the winner's state
    final = ours.table("ds", "t").scan().to_arrow().sort_by("version").to_pylist()
    assert final == [{"version": "ours", "n": 1}, {"version": "theirs", "n": 0}]


def test_tables_created_by_many_runs_at_once_are_one_table(settings: Settings) -> None:
    assert Catalog(settings).datasets() == []  # the catalog's own tables exist
    barrier = threading.Barrier(6)
    tables, errors = [], []

    def create() -> None:
        catalog = Catalog(settings)
        barrier.wait()
        try:
            tables.append(catalog.ensure_table("ds", "t", SCHEMA, partition_by="version"))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len({t.metadata.table_uuid for t in tables}) == 1
    assert all(t.spec().fields[0].name == "version" for t in tables)


class RivalCatalog(Catalog):
    """Runs `rival` right after its first load of the registry table: another run's
    registration lands between our read of the names and our commit."""

    def __init__(self, settings, rival) -> None:
        super().__init__(settings)
        self.rival = rival

    def table(self, dataset: str, name: str):
        table = super().table(dataset, name)
        if name == VERSIONS and self.rival is not None:
            rival, self.rival = self.rival, None
            rival()
        return table


def _version(name: str, fingerprint: str):
    from datetime import UTC, datetime

    from corpus.store.versions import Version

    return Version(
        name, datetime.now(UTC), 1, 2, 3, fingerprint, "test", {}, {"files": 0}, {}
    )  # fmt: skip


def test_two_registrations_of_one_name_admit_exactly_one(settings: Settings) -> None:
    Registry(Catalog(settings), "ds").register(_version("v0", "zero"))
    rival = Registry(Catalog(settings), "ds")
    ours = Registry(RivalCatalog(settings, lambda: rival.register(_version("v1", "theirs"))), "ds")
    with pytest.raises(VersionExists, match="'v1' of 'ds' already exists"):
        ours.register(_version("v1", "ours"))
    versions = Registry(Catalog(settings), "ds").list()
    assert [(v.name, v.config_fingerprint) for v in versions] == [("v0", "zero"), ("v1", "theirs")]


def test_a_second_run_of_a_name_is_refused_while_the_first_holds_it(settings: Settings) -> None:
    busy = pytest.raises(VersionInProgress, match="another run is publishing version 'v1'")
    with publish_lock(settings, "ds", "v1"):
        with busy, publish_lock(settings, "ds", "v1"):
            pass
        with publish_lock(settings, "ds", "v2"):  # other names are free
            pass
    with publish_lock(settings, "ds", "v1"):  # and the name once the first run is done
        pass


CONFIGS = {
    "full": {"tokenizer": {"vocab_size": 3000}},
    "exact": {"dedup": {"near": False}, "tokenizer": {"vocab_size": 3000}},
    "noshards": {"shards": {"enabled": False}},
}
#: (version name, config): "v1" twice, with different configs, so the loser's files
#: would differ from the winner's if both were written.
RUNS = [
    ("v1", "full"), ("v1", "exact"), ("v2", "full"), ("v3", "exact"),
    ("v4", "noshards"), ("v5", "full"), ("v6", "exact"), ("v7", "noshards"),
]  # fmt: skip
RUN_TIMEOUT = 240


class Poller(threading.Thread):
    """Reads every visible version again and again; records any that is not whole."""

    def __init__(self, catalog: Catalog) -> None:
        super().__init__(daemon=True)
        self.catalog = catalog
        self.done = threading.Event()
        self.polls = 0
        self.problems: list[str] = []
        self.first_seen: dict[str, dict[str, int]] = {}

    def run(self) -> None:
        while not self.done.is_set():
            try:
                self._poll()
            except Exception as exc:
                self.problems.append(f"poll {self.polls}: {exc!r}")
            self.polls += 1
            self.done.wait(0.1)  # leave the runs some CPU

    def _poll(self) -> None:
        for name, (seen, expected) in incomplete_versions(self.catalog, "ds").items():
            self.problems.append(f"{name} visible but partial: {seen} != {expected}")
        for version in Registry(self.catalog, "ds").list():
            counts = row_counts(self.catalog, "ds", version)
            if self.first_seen.setdefault(version.name, counts) != counts:
                self.problems.append(f"{version.name} changed after it became visible")


def _curate(tmp_path: Path, env: dict[str, str], name: str, config: str):
    path = tmp_path / f"{config}.yaml"
    path.write_text(yaml.safe_dump(CONFIGS[config]))
    return codecorpus(
        "curate", "ds", "--version", name, "--config", str(path), "--workers", "1",
        "--partitions", "1", env=env,
    )  # fmt: skip


def _json_lines(stderr: str) -> list[dict]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


@pytest.mark.slow
def test_eight_concurrent_runs_publish_whole_versions_or_fail_clearly(
    sample_corpus, tmp_path: Path, postgres_uri: str, ray_host: dict[str, str]
) -> None:
    root, _ = sample_corpus
    settings = pg_settings(tmp_path / "home", postgres_uri)
    catalog = Catalog(settings)
    env = settings_env(settings, ray_host)
    check_run(codecorpus("ingest", str(root), "-d", "ds", "--layout", "repos", env=env))
    env["CODECORPUS_LOG_FORMAT"] = "json"
    poller = Poller(Catalog(settings))
    poller.start()
    started = time.monotonic()
    procs = [_curate(tmp_path, env, name, config) for name, config in RUNS]
    outputs = [p.communicate(timeout=RUN_TIMEOUT) for p in procs]
    elapsed = time.monotonic() - started
    poller.done.set()
    poller.join(timeout=60)

    assert poller.problems == []
    assert poller.polls >= 5, "the poller should have read the registry throughout the runs"
    outcomes: Counter[tuple[str, str]] = Counter()
    for (name, _), proc, (stdout, stderr) in zip(RUNS, procs, outputs, strict=True):
        if proc.returncode == 0:
            outcomes[(name, "published")] += 1
            assert f"published ds@{name}" in stdout
        else:  # a clear one-line error, no traceback
            assert proc.returncode == 2, stderr[-3000:] + stdout[-3000:]
            assert "Traceback" not in stdout + stderr
            assert "another run is publishing version 'v1'" in stdout or (
                "version 'v1' of 'ds' already exists" in stdout
            ), stdout[-2000:]
            outcomes[(name, "refused")] += 1
        lines = _json_lines(stderr)  # every log line of a run carries that run's id
        assert lines and len({line["run_id"] for line in lines}) == 1, stderr[-2000:]
    assert outcomes[("v1", "published")] == 1 and outcomes[("v1", "refused")] == 1
    assert all(outcomes[(f"v{i}", "published")] == 1 for i in range(2, 8)), outcomes

    versions = {v.name: v for v in Registry(catalog, "ds").list()}
    assert sorted(versions) == [f"v{i}" for i in range(1, 8)]
    assert incomplete_versions(catalog, "ds") == {}
    by_config: dict[str, list[str]] = {}
    for name, version in versions.items():
        config = next(c for c, cfg in CONFIGS.items() if version.config_fingerprint ==
                      CurationConfig.from_dict(cfg).fingerprint())  # fmt: skip
        by_config.setdefault(config, []).append(name)
        assert row_counts(catalog, "ds", version) == expected_counts(version)
    for config, names in by_config.items():  # same config, same content, whoever raced
        first = decisions(catalog, "ds", versions[names[0]])
        for name in names[1:]:
            assert decisions(catalog, "ds", versions[name]).equals(first), (config, name)
    assert run_folders(settings, "ds") == [], "published runs remove their checkpoints"
    races = sum("lost a race" in line["msg"] for _, err in outputs for line in _json_lines(err))
    print(f"8 runs in {elapsed:.1f} s, {poller.polls} polls, {races} lost commit races retried")
