"""Bits per byte of the tiny run and the `codecorpus generate` / `eval` commands on it."""

import json
import math

import pytest

torch = pytest.importorskip("torch", reason="the [train] extra is not installed")
from typer.testing import CliRunner  # noqa: E402  (after the torch check)

from corpus.cli.main import app  # noqa: E402  (after the torch check)
from trainer.evaluation.bpb import bits_per_byte, document_bits, evaluate_bpb  # noqa: E402  (after the torch check)
from trainer.loading import load_model  # noqa: E402  (after the torch check)
from trainer.model import MPT  # noqa: E402  (after the torch check)


@pytest.fixture(scope="module")
def loaded(tiny_run):
    return load_model(tiny_run.run_dir)


def test_document_bits_are_the_summed_token_log_loss(loaded):
    tok = loaded.tokenizer
    doc = tok.encode("def add(a, b):\n    return a + b\n" * 6)
    seq = torch.tensor([[tok.eod_id, *doc]])
    logits, _ = loaded.model(seq[:, :-1])
    nats = torch.nn.functional.cross_entropy(logits[0], seq[0, 1:], reduction="sum")
    assert len(doc) + 1 <= loaded.seq_len * 2  # one or two windows of 64
    (bits,) = document_bits(loaded.model, [doc], tok.eod_id, seq_len=10_000)
    assert bits == pytest.approx(float(nats.detach()) / math.log(2), rel=1e-5)
    # windows of seq_len: each starts without context, so it costs at least as much
    (windowed,) = document_bits(loaded.model, [doc], tok.eod_id, seq_len=8)
    assert windowed > bits * 0.9 and windowed != pytest.approx(bits, rel=1e-6)


def test_bits_per_byte_per_language_and_the_humaneval_probe(loaded, tiny_run):
    result = evaluate_bpb(loaded, tiny_run.validation, max_documents=20)
    by_language = result["bits_per_byte_by_language"]
    assert sorted(by_language) == ["C", "Python"]
    for lang, v in by_language.items():
        assert v["documents"] == min(20, len(tiny_run.texts[lang]))
        assert 0 < v["bits_per_byte"] < 8 * 1.5, v  # 40 steps learn something, not much
    assert 0 < result["humaneval_bits_per_byte"] < 12
    # an untrained model of the same shape spends more bits on the same bytes
    torch.manual_seed(0)
    fresh = MPT(loaded.config).eval()
    docs = {"Python": [loaded.tokenizer.encode(t) for t in tiny_run.texts["Python"][:5]]}
    trained = bits_per_byte(loaded.model, loaded.tokenizer, docs, 64)["Python"]
    untrained = bits_per_byte(fresh, loaded.tokenizer, docs, 64)["Python"]
    assert untrained["bits_per_byte"] > trained["bits_per_byte"] + 0.5
    assert untrained["bytes"] == trained["bytes"] == sum(
        len(t.encode()) for t in tiny_run.texts["Python"][:5])  # fmt: skip


def test_cli_generate_eval_and_show(tiny_run):
    runner = CliRunner()
    run = str(tiny_run.run_dir)
    done = runner.invoke(app, ["generate", run, "--prompt", "def main(", "-n", "12"])
    assert done.exit_code == 0, done.output
    assert done.output.startswith("def main(") and "12 tokens" in done.output
    done = runner.invoke(app, ["eval", "bpb", run, "--documents", "5"])
    assert done.exit_code == 0, done.output
    assert "Python" in done.output and "HumanEval" in done.output
    done = runner.invoke(app, ["eval", "humaneval", run, "--samples", "2", "--k", "1,2",
                               "--problems", "2", "--max-new-tokens", "24"])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "2 problems x 2 samples" in done.output
    samples = (tiny_run.run_dir / "eval" / "humaneval_samples.jsonl").read_text().splitlines()
    assert len(samples) == 4 and all("passed" in json.loads(s) for s in samples)
    shown = runner.invoke(app, ["eval", "show", run])
    assert shown.exit_code == 0 and "pass@2" in shown.output and "fixture@v1" in shown.output
    metrics = [json.loads(x) for x in (tiny_run.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert {"bits_per_byte", "humaneval"} <= {m.get("eval") for m in metrics}


def test_stop_sequences_typed_on_the_command_line_are_unescaped():
    from corpus.cli.generate import _unescape

    assert _unescape(r"\ndef ") == "\ndef "
    assert _unescape("ünï\\t") == "ünï\t"  # non-ASCII survives
