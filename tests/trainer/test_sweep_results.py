"""Sweep results: the resumable table, the fit on synthetic results from known parameters,
and the PNG."""

import json
import math

import numpy as np
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from trainer.fit import Run
from trainer.scaling import ScalingLaw
from trainer.sweep_fit import PAPER, choose_free, fit_sweep, relative_paper_curve
from trainer.sweep_grid import SweepError
from trainer.sweep_plot import plot_sweep, series
from trainer.sweep_table import COLUMNS, ResultsTable

TRUE = ScalingLaw(b=6.5, e=0.2, rd_star=5.0)  # the paper's a, alpha, beta, R_N*


def _row(trial_id: str, epochs: float, loss: float, model: str = "tiny", tokens: int = 10**9):
    unique = round(tokens / epochs)
    return {
        "trial_id": trial_id, "model": model, "params": 10**7, "tokens": tokens,
        "unique_tokens": unique, "epochs": tokens / unique, "planned_tokens": tokens,
        "planned_unique": unique, "planned_epochs": epochs, "steps": 10, "val_loss": loss,
        "val_loss_by_language": {"Python": loss - 0.1, "C": loss + 0.1}, "train_loss": loss,
        "tokens_per_s": 1000.0, "mfu": None, "wall_s": 1.5, "evals": {}, "seed": 0,
        "finished_at": "2026-01-01T00:00:00+00:00",
    }  # fmt: skip


def test_table_appends_reads_back_and_resumes(tmp_path) -> None:
    table = ResultsTable(tmp_path / "out")
    assert table.trial_ids() == set() and table.rows() == []
    table.append(_row("a", 1, 3.0))
    table.append(_row("b", 2, 3.1))
    again = ResultsTable(tmp_path / "out")  # a rerun reads what the first run wrote
    assert again.trial_ids() == {"a", "b"}
    rows = again.rows(["b", "missing", "a"])
    assert [r["trial_id"] for r in rows] == ["b", "a"]
    assert rows[0]["val_loss_by_language"] == {"C": 3.2, "Python": 3.0}
    assert rows[1] == {**_row("a", 1, 3.0)}
    again.append(_row("a", 1, 2.5))  # a trial rerun replaces its row
    assert [(r["trial_id"], r["val_loss"]) for r in again.rows()] == [("b", 3.1), ("a", 2.5)]
    assert pq.read_table(tmp_path / "out" / "results.parquet").schema.names == list(COLUMNS)
    csv = pacsv.read_csv(tmp_path / "out" / "results.csv").to_pylist()
    assert [r["trial_id"] for r in csv] == ["b", "a"]
    assert csv[1]["val_loss.Python"] == pytest.approx(2.4) and "val_loss_by_language" not in csv[0]
    assert not list((tmp_path / "out").glob(".*.tmp"))


def test_table_refuses_foreign_files(tmp_path) -> None:
    (tmp_path / "results.parquet").write_bytes(b"not parquet")
    with pytest.raises(SweepError, match="cannot read the sweep results"):
        ResultsTable(tmp_path).trial_ids()
    import pyarrow as pa

    pq.write_table(pa.table({"x": [1]}), tmp_path / "results.parquet")
    with pytest.raises(SweepError, match="not a sweep's"):
        ResultsTable(tmp_path).rows()
    with pytest.raises(SweepError, match="lacks"):
        ResultsTable(tmp_path / "new").append({"trial_id": "x"})


def _synthetic(law: ScalingLaw) -> list[Run]:
    runs = []
    for params in (1e7, 3e7, 1e8):
        for tokens in (1e9, 3e9):
            for epochs in (1, 2, 4, 8, 16, 32):
                loss = float(law.loss(params, tokens, tokens / epochs))
                runs.append(Run(params, tokens, tokens / epochs, loss))
    return runs


def test_fit_recovers_known_parameters() -> None:
    runs = _synthetic(TRUE)
    fit = fit_sweep(runs, free=("b", "e", "rd_star"))
    assert fit.free == ("b", "e", "rd_star") and fit.runs == len(runs)
    assert fit.law.b == pytest.approx(6.5, rel=1e-4)
    assert fit.law.e == pytest.approx(0.2, rel=1e-3)
    assert fit.law.rd_star == pytest.approx(5.0, rel=1e-3)
    assert fit.law.a == PAPER.a and fit.law.rn_star == PAPER.rn_star  # fixed ones untouched
    assert fit.rmse_fit < 1e-6
    # The paper's R_D* = 15.4 decays slower than the true 5: its shape misses the repeats.
    assert fit.rmse_paper > 0.01
    assert not fit.at_bound
    lines = "\n".join(fit.lines())
    assert "R_D* = 5 (paper: 15.39)" in lines and "fixed at the paper's values: a, alpha" in lines
    auto = fit_sweep(runs)  # three sizes: a is free too
    assert auto.free == ("rd_star", "b", "a", "e")
    assert auto.law.rd_star == pytest.approx(5.0, rel=1e-3)
    assert auto.law.a == pytest.approx(PAPER.a, rel=1e-3)
    assert json.loads(json.dumps(auto.to_dict()))["law"]["rd_star"] == pytest.approx(5.0, rel=1e-3)


def test_fit_of_the_paper_law_matches_it_by_shape() -> None:
    fit = fit_sweep(_synthetic(PAPER), free=("b", "e", "rd_star"))
    assert fit.law.rd_star == pytest.approx(PAPER.rd_star, rel=1e-3)
    assert fit.rmse_paper < 1e-6


def test_auto_free_parameters_follow_the_runs() -> None:
    one_size = [r for r in _synthetic(TRUE) if r.params == 1e8]
    # One size whose loss is above the paper's parameter term: a stays fixed.
    assert choose_free(one_size) == ("rd_star", "b", "e")
    # Tiny models: the paper's A / N^alpha alone exceeds the losses, so a must be refit.
    tiny = [Run(3e5, r.tokens, r.unique, 6.0) for r in one_size]
    assert PAPER.A / 3e5**PAPER.alpha > 6.0
    assert choose_free(tiny) == ("rd_star", "b", "a", "e")
    assert choose_free(tiny[:5]) == ("rd_star", "b")  # two runs per parameter
    single_epoch = [r for r in one_size if r.tokens <= r.unique]
    assert choose_free(single_epoch) == ("b",)
    skipped = fit_sweep(one_size[:1])
    assert skipped.law is None and "needs at least 2" in skipped.lines()[0]
    too_many = fit_sweep(one_size[:3], free=("a", "b", "e"))
    assert too_many.law is None and "needs at least 6 runs" in too_many.skipped


def test_relative_paper_curve() -> None:
    curve = relative_paper_curve(1e8, 1e10, np.array([1.0, 4.0, 40.0]))
    assert curve[0] == pytest.approx(1.0)
    # The paper: up to ~4 epochs cost little; 40 epochs cost clearly more.
    assert 1.0 < curve[1] < 1.01 < curve[2]


def _png(path) -> tuple[int, int]:
    from PIL import Image  # matplotlib's dependency

    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        return image.size


def test_plot_writes_a_png(tmp_path) -> None:
    pytest.importorskip("matplotlib", reason="plots need the [train] extra (matplotlib)")
    runs = _synthetic(TRUE)
    fit = fit_sweep(runs, free=("b", "e", "rd_star"))
    rows = []
    for i, run in enumerate(runs):
        model = {1e7: "tiny", 3e7: "125m", 1e8: "350m"}[run.params]
        row = _row(f"t{i}", run.tokens / run.unique, run.loss, model, int(run.tokens))
        rows.append({**row, "params": int(run.params)})
    assert len(series(rows)) == 6 and all(len(g) == 6 for g in series(rows).values())
    path = plot_sweep(rows, fit, tmp_path / "plots" / "sweep.png")
    assert _png(path) == (1200, 600)
    # Without a fit the paper's curve is anchored at each series' first trial.
    skipped = fit_sweep(runs[:1])
    assert _png(plot_sweep(rows[:3], skipped, tmp_path / "nofit.png")) == (1200, 600)
    assert math.isclose(rows[0]["epochs"], 1.0)


def test_trial_evaluations_round_trip_and_spread_in_the_csv(tmp_path) -> None:
    table = ResultsTable(tmp_path)
    table.append({**_row("a", 1, 3.0), "evals": {"bits_per_byte": 2.5, "pass@1": 0.25,
                                                "bits_per_byte_by_language": {"C": 2.0}}})
    no_evals = _row("b", 2, 3.1)
    del no_evals["evals"]  # rows without evaluations are fine too
    table.append(no_evals)
    rows = {r["trial_id"]: r for r in table.rows()}
    assert rows["a"]["evals"]["bits_per_byte_by_language"] == {"C": 2.0}
    assert rows["b"]["evals"] == {}
    csv = {r["trial_id"]: r for r in pacsv.read_csv(tmp_path / "results.csv").to_pylist()}
    assert csv["a"]["bits_per_byte"] == 2.5 and csv["a"]["pass@1"] == 0.25
    assert csv["b"]["bits_per_byte"] is None


def test_a_table_from_before_evaluations_still_reads(tmp_path) -> None:
    import pyarrow as pa

    from trainer.sweep_table import SCHEMA

    old = SCHEMA.remove(SCHEMA.get_field_index("evals"))
    row = {k: v for k, v in _row("a", 1, 3.0).items() if k != "evals"}
    row["val_loss_by_language"] = "{}"
    pq.write_table(pa.Table.from_pylist([row], schema=old), tmp_path / "results.parquet")
    table = ResultsTable(tmp_path)
    assert table.rows()[0]["evals"] == {} and table.trial_ids() == {"a"}
    table.append(_row("b", 2, 3.1))
    assert pq.read_table(tmp_path / "results.parquet").schema.names == list(COLUMNS)
