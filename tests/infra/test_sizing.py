"""infra/SIZING.md agrees with the measurement it cites and with the manifests it sizes."""

import json

import yaml

from tests.infra.manifests import INFRA, REPO, quantity

SIZING = (INFRA / "SIZING.md").read_text()
RESULT = REPO / "benchmarks" / "results" / "stage_throughput_parquet_300mb.json"
PHASES = ("ingest", "stages", "dedup_global", "tokenizer_scan", "finish")
INPUT_MB = 6_000_000


def _rates() -> dict[str, float]:
    """MB per CPU second of each phase, as the doc rounds them."""
    result = json.loads(RESULT.read_text())
    rates = {}
    for phase in PHASES:
        entry = result[phase]
        rate = entry["bytes"] / 1e6 / entry["cpu_seconds"]
        rates[phase] = round(rate, 2) if rate < 10 else round(rate, 1)
    return rates


def test_rates_and_worst_case_arithmetic_match_the_measurement() -> None:
    rates = _rates()
    for phase, rate in rates.items():
        assert f"**{rate}**" in SIZING, f"{phase}: {rate} MB per CPU s is not in SIZING.md"
    cpu_hours = sum(INPUT_MB / rate / 3600 for rate in rates.values())
    assert f"**{cpu_hours:,.1f}**" in SIZING
    with_margin = cpu_hours * 1.5
    assert f"**{with_margin:,.0f}**" in SIZING
    for cores in (128, 512):
        assert f"{with_margin:,.0f} / {cores} = **{with_margin / cores:.1f} h**" in SIZING


def test_worker_shape_matches_the_manifests() -> None:
    cluster = yaml.safe_load((INFRA / "kuberay" / "raycluster.yaml").read_text())
    (group,) = cluster["spec"]["workerGroupSpecs"]
    limits = group["template"]["spec"]["containers"][0]["resources"]["limits"]
    cpus, memory = quantity(limits["cpu"]), quantity(limits["memory"]) / 2**30
    store = int(group["rayStartParams"]["object-store-memory"]) / 2**30
    disk = quantity(limits["ephemeral-storage"]) / 2**30
    assert f"## Per worker node ({cpus} CPUs)" in SIZING
    assert f"**Memory: {memory} GiB ({memory / cpus} GiB per CPU).**" in SIZING
    assert f"**Object store: {store:g} GiB.**" in SIZING
    assert f"**Disk: {disk} GiB of local (ephemeral) disk**" in SIZING
    job = yaml.safe_load((INFRA / "kuberay" / "curate" / "rayjob.yaml").read_text())
    partitions = job["spec"]["entrypoint"].split("--partitions ")[1].split()[0]
    assert f"P = {partitions} gives" in SIZING
