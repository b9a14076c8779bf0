"""Export of the tiny trained run: Hugging Face MPT (logits to 1e-4 and the same greedy tokens
in `transformers`, our loader reads it back, AutoTokenizer gives our ids on the reference
languages' files) and GGUF (every tensor and metadata key read back)."""

from dataclasses import replace
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the [train] extra is not installed")

from corpus.core.errors import ConfigError  # noqa: E402  (after the torch check)
from tests.language_samples import collect  # noqa: E402  (after the torch check)
from trainer.export_hf import export_hf  # noqa: E402  (after the torch check)
from trainer.generate import SamplingConfig, generate  # noqa: E402  (after the torch check)
from trainer.loading import LoadedModel, load_model  # noqa: E402  (after the torch check)
from trainer.model import MPT  # noqa: E402  (after the torch check)

PROMPTS = ["def main(", "import os\n\nclass ", "#include <stdio.h>\nint ", "    return "]
GREEDY = SamplingConfig(max_new_tokens=24, stop_at_eod=False)


@pytest.fixture(scope="module")
def loaded(tiny_run):
    return load_model(tiny_run.run_dir)


@pytest.fixture(scope="module")
def hf_dir(loaded, tmp_path_factory):
    return export_hf(loaded, tmp_path_factory.mktemp("hf") / "model")


def _hf_greedy(hf, prompt: list[int], n: int) -> list[int]:
    out = hf.generate(torch.tensor([prompt]), max_new_tokens=n, min_new_tokens=n,
                      do_sample=False, eos_token_id=None)  # fmt: skip
    return out[0, len(prompt) :].tolist()


def _check_against_transformers(loaded: LoadedModel, folder: Path) -> None:
    from transformers import MptForCausalLM

    hf = MptForCausalLM.from_pretrained(folder).eval()
    tok = loaded.tokenizer
    for text in [*PROMPTS, "def f(x):\n    return [i * 2 for i in range(x)]\n" * 4]:
        ids = torch.tensor([tok.encode(text)])
        with torch.no_grad():
            ours, _ = loaded.model(ids)
            theirs = hf(ids).logits
        assert torch.allclose(ours, theirs, atol=1e-4, rtol=0), (ours - theirs).abs().max()
    for text in PROMPTS:
        prompt = tok.encode(text)
        ours = generate(loaded.model, [prompt], GREEDY)[0].ids
        assert _hf_greedy(hf, prompt, GREEDY.max_new_tokens) == ours


def test_hf_export_matches_transformers(loaded, hf_dir):
    assert {p.name for p in hf_dir.iterdir()} >= {
        "config.json", "model.safetensors", "generation_config.json", "tokenizer.json",
        "tokenizer.model", "codecorpus.json"}  # fmt: skip
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(hf_dir)
    assert config.model_type == "mpt" and config.attn_config.alibi and not config.learned_pos_emb
    assert config.eos_token_id == loaded.tokenizer.eod_id
    _check_against_transformers(loaded, hf_dir)


def test_an_untrained_model_with_varied_tokens_matches_too(loaded, tmp_path):
    # The tiny run's greedy text is repetitive; a wide random init gives varied tokens.
    torch.manual_seed(0)
    config = replace(loaded.config, init_std=0.5)
    model = MPT(config).eval()
    fresh = LoadedModel(model, config, loaded.source, "run", loaded.tokenizer, {}, 0, 64)
    folder = export_hf(fresh, tmp_path / "fresh")
    varied = generate(model, [loaded.tokenizer.encode(PROMPTS[0])], GREEDY)[0].ids
    assert len(set(varied)) > 5, varied
    _check_against_transformers(fresh, folder)


def test_the_export_reloads_and_generates_the_same(loaded, hf_dir):
    again = load_model(hf_dir)
    assert again.kind == "hf" and again.config == loaded.config
    assert again.lineage == loaded.lineage and again.seq_len == loaded.seq_len
    prompts = [loaded.tokenizer.encode(t) for t in PROMPTS]
    before = [c.ids for c in generate(loaded.model, prompts, GREEDY)]
    after = [c.ids for c in generate(again.model, prompts, GREEDY)]
    assert before == after
    assert again.tokenizer.model_bytes == loaded.tokenizer.model_bytes


def test_auto_tokenizer_gives_our_ids_on_the_reference_files(loaded, hf_dir):
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(hf_dir)
    ours = loaded.tokenizer
    samples = collect(per_source=2)
    labels = {label for _, label in samples}
    assert len(labels) >= 20, sorted(labels)
    checked = 0
    for path, label in samples:
        text = Path(path).read_text(errors="replace")
        if "\u2581" in text:  # the one documented exception
            continue
        ids = ours.encode(text)
        assert hf.encode(text, add_special_tokens=False) == ids, (path, label)
        assert hf.decode(ids) == ours.decode(ids)
        checked += 1
    assert checked >= len(samples) - 3
    for text in ["x = '</s>'", "\t\t  if a:\n        b = 1234567  # ünïcödé ✓\n", "    " * 9]:
        assert hf.encode(text, add_special_tokens=False) == ours.encode(text), text
    # a literal U+2581: our encoding keeps it (byte pieces), tokenizers' cannot
    assert hf.encode("a\u2581b", add_special_tokens=False) != ours.encode("a\u2581b")


def test_settings_hf_mpt_cannot_express_are_refused(loaded, tmp_path):
    for change, words in ((dict(expansion_ratio=2), "4 \\* d_model"),
                          (dict(alibi_bias_max=4.0), "alibi_bias_max 8")):  # fmt: skip
        config = replace(loaded.config, **change)
        other = LoadedModel(MPT(config), config, loaded.source, "run", loaded.tokenizer)
        with pytest.raises(ConfigError, match=words):
            export_hf(other, tmp_path / str(change))
    with pytest.raises(ConfigError, match="not empty"):
        export_hf(loaded, Path(__file__).parent)


def test_gguf_reads_back_every_tensor_and_key(loaded, tmp_path):
    import numpy as np

    from trainer.export_gguf import export_gguf, gguf_metadata, gguf_tensors, load_gguf, read_gguf

    path = export_gguf(loaded, tmp_path / "gguf")
    meta, tensors = read_gguf(path)
    expected = gguf_metadata(loaded)
    assert set(meta) == set(expected)
    for key, value in expected.items():
        if isinstance(value, float):
            assert meta[key] == pytest.approx(value, rel=1e-6), key
        elif key == "tokenizer.ggml.scores":
            assert meta[key] == pytest.approx(value, rel=1e-6)
        else:
            assert meta[key] == value, key
    assert meta["tokenizer.ggml.tokens"][loaded.tokenizer.eod_id] == "</s>"
    assert set(meta["tokenizer.ggml.token_type"]) == {1, 2, 3, 4, 6}  # user-defined indents too
    ours = gguf_tensors(loaded.model)
    assert sorted(tensors) == sorted(ours) and "blk.1.attn_qkv.weight" in tensors
    assert "output.weight" not in tensors  # tied head
    for name, array in ours.items():
        assert tensors[name].dtype == np.float32 and np.array_equal(tensors[name], array), name
    # rebuilt from the file, the model generates the tokens it did before export
    again = load_gguf(path)
    prompts = [loaded.tokenizer.encode(t) for t in PROMPTS]
    assert [c.ids for c in generate(again, prompts, GREEDY)] == [
        c.ids for c in generate(loaded.model, prompts, GREEDY)]  # fmt: skip


def test_export_model_cli(tiny_run, tmp_path):
    from typer.testing import CliRunner

    from corpus.cli.main import app

    runner = CliRunner()
    for fmt in ("hf", "gguf"):
        done = runner.invoke(app, ["export-model", str(tiny_run.run_dir), "--format", fmt,
                                   "--out", str(tmp_path / fmt)])  # fmt: skip
        assert done.exit_code == 0, done.output
    assert (tmp_path / "hf" / "model.safetensors").is_file()
    assert (tmp_path / "gguf" / "model.gguf").is_file()
    done = runner.invoke(app, ["export-model", str(tiny_run.run_dir), "--format", "onnx"])
    assert done.exit_code != 0 and "hf" in str(done.exception or done.output)
