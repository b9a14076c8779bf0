"""Evaluation results kept with the run: `eval/<name>.json`, and a line in metrics.jsonl."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def record_eval(run_dir: Path, name: str, result: dict[str, Any]) -> Path:
    folder = run_dir / "eval"
    folder.mkdir(parents=True, exist_ok=True)
    stamped = {**result, "evaluated_at": datetime.now(UTC).isoformat(timespec="seconds")}
    path = folder / f"{name}.json"
    path.write_text(json.dumps(stamped, indent=2, sort_keys=True))
    with (run_dir / "metrics.jsonl").open("a") as f:
        f.write(json.dumps({"eval": name, **stamped}) + "\n")
    return path


def read_evals(run_dir: Path) -> dict[str, dict[str, Any]]:
    """Every recorded evaluation of the run, by name (empty when none)."""
    folder = run_dir / "eval"
    if not folder.is_dir():
        return {}
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}
