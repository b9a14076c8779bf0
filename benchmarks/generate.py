"""Generation speed on CPU: our KV-cached decoding against a plain uncached loop on the same
model in the same run, and against `transformers`' generate on the model exported to HF.

Run from the repository root:

    python -m benchmarks.generate                  # d_model 384, 6 layers, 256 new tokens
    python -m benchmarks.generate --quick          # a smoke run

The model is an MPT of the given shape with a seeded random init (speed does not depend on
what it learned), fp32, torch on 2 threads. Each
contender decodes greedily `--new` tokens after the same `--prompt`-token prompt, batch 1;
all three must produce the same tokens (asserted), so each is timed doing the same work.
The plain loop calls `MPT.forward` on the whole sequence for every new token. Timings are
the median of `--repeats`. Target: cached >= 5x the plain loop at 256 new tokens.
"""

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "generate_cpu.json"


def _timed(fn, repeats: int) -> tuple[float, list[int]]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--d-model", type=int, default=384)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--heads", type=int, default=6)
    parser.add_argument("--vocab", type=int, default=8192)
    parser.add_argument("--prompt", type=int, default=64)
    parser.add_argument("--new", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.d_model, args.layers, args.heads, args.new, args.repeats = 128, 2, 4, 64, 1

    import torch
    from transformers import MptForCausalLM

    from trainer.export_hf import export_hf
    from trainer.generate import SamplingConfig, generate
    from trainer.loading import LoadedModel
    from trainer.model import MPT
    from trainer.model_config import ModelConfig

    torch.set_num_threads(2)
    torch.manual_seed(0)
    config = ModelConfig(d_model=args.d_model, n_layers=args.layers, n_heads=args.heads,
                         vocab_size=args.vocab, max_seq_len=2048, init_std=0.5,
                         attention="sdpa")  # fmt: skip
    model = MPT(config).eval()
    seeded = torch.Generator().manual_seed(1)
    prompt = torch.randint(0, args.vocab, (args.prompt,), generator=seeded).tolist()
    sampling = SamplingConfig(max_new_tokens=args.new, stop_at_eod=False)

    def cached() -> list[int]:
        return generate(model, [prompt], sampling)[0].ids

    def plain() -> list[int]:
        seq = torch.tensor([prompt])
        with torch.no_grad():
            for _ in range(args.new):
                logits, _ = model(seq)
                seq = torch.cat([seq, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
        return seq[0, len(prompt):].tolist()

    with tempfile.TemporaryDirectory() as tmp:
        loaded = LoadedModel(model, config, Path(tmp), "run")
        folder = export_hf(loaded, Path(tmp) / "hf")
        hf = MptForCausalLM.from_pretrained(folder).eval()

    def hf_generate() -> list[int]:
        with torch.no_grad():
            out = hf.generate(torch.tensor([prompt]), max_new_tokens=args.new,
                              min_new_tokens=args.new, do_sample=False, eos_token_id=None,
                              pad_token_id=0, use_cache=True)  # fmt: skip
        return out[0, len(prompt):].tolist()

    cached()  # warm up (allocator, kernels) before timing
    rows = {}
    for name, fn in (("ours, KV cache", cached), ("plain uncached loop", plain),
                     ("transformers generate (HF export)", hf_generate)):  # fmt: skip
        seconds, tokens = _timed(fn, args.repeats)
        rows[name] = {"seconds": seconds, "tokens_per_s": args.new / seconds, "tokens": tokens}
    reference = rows["ours, KV cache"]["tokens"]
    for name, row in rows.items():
        if row.pop("tokens") != reference:
            raise SystemExit(f"{name} decoded other tokens than ours: the comparison is void")
    ours = rows["ours, KV cache"]["tokens_per_s"]
    print(f"\nMPT d_model {args.d_model}, {args.layers} layers, vocab {args.vocab} "
          f"({model.config.n_params():,} parameters), prompt {args.prompt}, "
          f"{args.new} new tokens ({len(set(reference))} distinct, identical for all three), "
          f"batch 1, CPU, 2 threads, median of {args.repeats}\n")
    print("| decoder | seconds | tokens/s | ours cached vs it |")
    print("|---|---:|---:|---:|")
    for name, row in rows.items():
        print(f"| {name} | {row['seconds']:.2f} | {row['tokens_per_s']:.1f} | "
              f"{ours / row['tokens_per_s']:.2f}x |")
    if not args.quick:
        RESULTS.write_text(json.dumps({"args": vars(args), "results": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
