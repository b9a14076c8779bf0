"""File pages read only the data files that can hold them, and equal a full sort."""

import random

import pytest
from pyiceberg.expressions import EqualTo
from pyiceberg.io.pyarrow import ArrowScan

from api.listing import Plan, PlanCache
from api.settings import ApiSettings
from corpus.store.catalog import DECISIONS, Catalog
from corpus.store.versions import Registry, scan_version


@pytest.fixture(scope="module")
def v1_scan(curated_settings: ApiSettings):
    catalog = Catalog(curated_settings.catalog)
    version = Registry(catalog, "ds").get("v1")
    return lambda: scan_version(catalog, "ds", version, DECISIONS).select("file_id", "lang")


def _read_files(monkeypatch) -> list[str]:
    """Record the data files every ArrowScan reads from now on."""
    read: list[str] = []
    original = ArrowScan.to_record_batches

    def counting(self, tasks):
        tasks = list(tasks)
        read.extend(t.file.file_path for t in tasks)
        return original(self, tasks)

    monkeypatch.setattr(ArrowScan, "to_record_batches", counting)
    return read


def test_pages_equal_a_full_sort_for_any_limit_and_cursor(v1_scan) -> None:
    ids = sorted(v1_scan().to_arrow()["file_id"].to_pylist())
    plan = Plan.of(v1_scan())
    assert len(plan.tasks) > 1  # the version spans several data files
    rng = random.Random(7)
    for _ in range(25):
        limit = rng.randint(1, 60)
        after = rng.choice([None, *ids, "0", "f" * 40])
        expected = [i for i in ids if after is None or i > after][:limit]
        page = plan.first_rows(limit, after)
        assert (page["file_id"].to_pylist() if page is not None else []) == expected


def test_a_small_page_reads_one_data_file(v1_scan, monkeypatch) -> None:
    plan = Plan.of(v1_scan())
    read = _read_files(monkeypatch)
    first = plan.first_rows(5)
    assert len(read) == 1 and first.num_rows == 5
    read.clear()
    middle = plan.lower[len(plan.tasks) // 2]  # a cursor inside a later file's range
    page = plan.first_rows(5, middle)
    assert len(read) <= 2 and page["file_id"][0].as_py() > middle


def test_filters_still_apply_and_plans_are_reused(v1_scan, monkeypatch) -> None:
    cache = PlanCache(capacity=2)
    made: list[int] = []

    def make():
        made.append(1)
        return v1_scan().filter(EqualTo("lang", "Python"))

    key = ("ds", DECISIONS, "v1", "lang=Python")
    page = cache.plan(key, make).first_rows(1000)
    python = sorted(r["file_id"] for r in v1_scan().to_arrow().to_pylist() if r["lang"] == "Python")
    assert page["file_id"].to_pylist() == python and set(page["lang"].to_pylist()) == {"Python"}
    cache.plan(key, make)
    assert len(made) == 1  # the second page reused the plan
    cache.plan(("a",), make), cache.plan(("b",), make)
    cache.plan(key, make)  # evicted by the two newer plans
    assert len(made) == 4
