"""`codecorpus train` on a real curated version of the sample corpus, through the deepspeed
launcher on 2 CPU ranks, and its errors."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from corpus.core.settings import Settings
from corpus.pipeline.config import CurationConfig
from corpus.pipeline.curate import curate
from corpus.pipeline.ingest import ingest
from corpus.sources import Layout
from corpus.store.catalog import SHARDS, Catalog
from corpus.store.mixtures import create_mixture

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ray_local")]
pytest.importorskip("deepspeed", reason="training needs the [train] extra (torch, DeepSpeed)")


@pytest.fixture(scope="module")
def home(sample_corpus, tmp_path_factory) -> Path:
    root, _ = sample_corpus
    home = tmp_path_factory.mktemp("train_cli")
    catalog = Catalog(Settings(home=home))
    ingest([str(root)], "ds", catalog, layout=Layout.REPOS)
    config = {"tokenizer": {"vocab_size": 1000}, "shards": {"validation_fraction": 0.2}}
    curate("ds", "v1", catalog, CurationConfig.from_dict(config))
    return home


@pytest.fixture(scope="module")
def mixture(home) -> tuple[str, list[str]]:
    catalog = Catalog(Settings(home=home))
    rows = catalog.table("ds", SHARDS).scan().to_arrow().to_pylist()
    train = {r["lang"] for r in rows if r["split"] == "train"}
    held_out = {r["lang"] for r in rows if r["split"] == "validation"}
    languages = sorted(train & held_out)[:2]
    assert "Python" in languages, (train, held_out)
    found = create_mixture(catalog, "ds", "v1", dict.fromkeys(languages, 1.0), 20_000)
    return found.id, languages


def _cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    code = "from corpus.cli.main import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True, text=True, timeout=600,
        # The venv's bin first: DeepSpeed's CPU ops JIT-build with its `ninja`.
        env={"CODECORPUS_HOME": str(home), "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
             "COLUMNS": "200", "HOME": str(Path.home())},
    )  # fmt: skip


def test_train_a_mixture_on_two_ranks(home, mixture, tmp_path):
    mixture_id, languages = mixture
    config = tmp_path / "train.yaml"
    config.write_text("model: tiny\nseq_len: 32\nmicro_batch: 2\nzero_stage: 2\neval_windows: 4\n")
    out = tmp_path / "run"
    done = _cli("train", "ds", "-v", "v1", "-m", mixture_id, "--config", str(config),
                "--out", str(out), "--nproc", "2", "--max-steps", "3", home=home)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "epochs" in done.stdout and "3 steps" in done.stdout
    result = json.loads((out / "result.json").read_text())
    assert result["world_size"] == 2 and result["steps"] == 3
    assert result["tokens"] == 3 * 2 * 2 * 32
    assert sorted(result["val_loss_by_language"]) == languages
    job = json.loads((out / "job.json").read_text())
    assert job["config"]["model_overrides"]["vocab_size"] == 1000  # the tokenizer's
    assert sorted(c["language"] for c in job["mixture"]["components"]) == languages
    assert (out / "checkpoints" / "latest").read_text() == "step00000003"
    lineage = json.loads((out / "lineage.json").read_text())  # what made the model
    assert (lineage["dataset"], lineage["version"], lineage["mixture"]) == ("ds", "v1", mixture_id)
    assert sorted(lineage["validation"]) == languages
    assert (out / "tokenizer.model").stat().st_size > 0


def test_errors_are_one_clear_line(home, mixture):
    mixture_id, _ = mixture
    unknown = _cli("train", "ds", "-v", "v1", "-m", "f" * 32, home=home)
    assert unknown.returncode == 2 and "no mixture" in unknown.stdout
    version = _cli("train", "ds", "-v", "v9", "-m", mixture_id, home=home)
    assert version.returncode == 2 and "v9" in version.stdout
    assert "Traceback" not in unknown.stdout + unknown.stderr + version.stdout + version.stderr


def test_missing_shards_are_named(home, mixture, tmp_path):
    mixture_id, _ = mixture
    catalog = Catalog(Settings(home=home))
    rows = catalog.table("ds", SHARDS).scan().to_arrow().to_pylist()
    shard = Path(next(r["prefix"] for r in rows if r["split"] == "train") + ".bin")
    moved = tmp_path / shard.name
    shard.rename(moved)
    try:
        missing = _cli("train", "ds", "-v", "v1", "-m", mixture_id, home=home)
    finally:
        moved.rename(shard)
    assert missing.returncode == 2 and "is missing" in missing.stdout, missing.stdout


def test_a_model_of_the_curated_version_exports_and_generates_the_same(home, mixture, tmp_path):
    """Trained by `codecorpus train` on the curated sample corpus (what `codecorpus demo`
    builds), exported to HF and GGUF through the CLI: the reloaded models decode the same
    greedy tokens as the run, in our decoder and in transformers."""
    import torch
    from transformers import MptForCausalLM

    from trainer.export_gguf import load_gguf
    from trainer.generate import SamplingConfig, generate
    from trainer.loading import load_model

    mixture_id, _ = mixture
    config = tmp_path / "train.yaml"
    config.write_text("model: tiny\nseq_len: 32\nmicro_batch: 4\nzero_stage: 1\neval_windows: 2\n")
    out = tmp_path / "run"
    done = _cli("train", "ds", "-v", "v1", "-m", mixture_id, "--config", str(config),
                "--out", str(out), "--max-steps", "4", home=home)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    for fmt in ("hf", "gguf"):
        done = _cli("export-model", str(out), "--format", fmt, "--out", str(tmp_path / fmt),
                    home=home)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
    run = load_model(out)
    assert run.lineage["version"] == "v1" and run.tokenizer.vocab_size == 1000
    prompts = [run.tokenizer.encode(t) for t in ("import os\n", "def main():\n    ")]
    greedy = SamplingConfig(max_new_tokens=16, stop_at_eod=False)
    before = [c.ids for c in generate(run.model, prompts, greedy)]
    assert [c.ids for c in generate(load_model(tmp_path / "hf").model, prompts, greedy)] == before
    gguf = load_gguf(tmp_path / "gguf" / "model.gguf")
    assert [c.ids for c in generate(gguf, prompts, greedy)] == before
    hf = MptForCausalLM.from_pretrained(tmp_path / "hf").eval()
    for prompt, ids in zip(prompts, before, strict=True):
        out_ids = hf.generate(torch.tensor([prompt]), max_new_tokens=16, min_new_tokens=16,
                              do_sample=False, eos_token_id=None)  # fmt: skip
        assert out_ids[0, len(prompt):].tolist() == ids
