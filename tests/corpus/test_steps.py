"""The phase framework's contract, checked on the driver without Ray: arguments are frozen
dataclasses that match the task, and a finished phase is not run again."""

from dataclasses import dataclass
from pathlib import Path

import pytest

from corpus.core.exchange import join, read_marker, write_marker
from corpus.pipeline.steps import Phase, call, resumable, run_phase


def _add(run: str, part: int, step: int = 1) -> dict:
    return {"sum": part + step, "run": run}


@dataclass(frozen=True)
class AddArgs:
    run: str
    part: int


@dataclass
class Mutable:
    run: str
    part: int


@dataclass(frozen=True)
class Misnamed:
    run: str
    partition: int


def test_a_task_gets_the_fields_of_its_argument_as_keywords() -> None:
    assert call(_add, AddArgs("r", 2)) == {"sum": 3, "run": "r"}


@pytest.mark.parametrize("arg", [("r", 1), Mutable("r", 1), AddArgs])
def test_arguments_must_be_frozen_dataclass_instances(arg) -> None:
    with pytest.raises(TypeError, match="frozen dataclasses"):
        Phase("add", _add, [arg])


def test_arguments_must_match_the_task_signature() -> None:
    with pytest.raises(TypeError, match=r"Misnamed does not fit _add: missing .* 'part'"):
        Phase("add", _add, [Misnamed("r", 1)])


def test_a_finished_phase_is_skipped_and_reported_from_its_marker(tmp_path: Path) -> None:
    run = str(tmp_path)
    write_marker(join(run, "steps", "add"), {"sum": 7})
    heard: list[tuple[str, dict]] = []
    # no Ray here: a phase that ran would fail to start its tasks
    result = run_phase(
        run, Phase("add", _add, [AddArgs(run, 1)]), lambda n, r: heard.append((n, r))
    )
    assert result == {"sum": 7}
    assert heard[0][0] == "add" and heard[0][1]["sum"] == 7 and "seconds" in heard[0][1]
    reported = Phase("add", _add, [AddArgs(run, 1)], report=lambda r: {"parts": 1})
    run_phase(run, reported, lambda n, r: heard.append((n, r)))
    assert heard[1] == ("add", {"parts": 1})


def test_resumable_keeps_a_result_and_returns_it_on_the_next_run(tmp_path: Path) -> None:
    run = str(tmp_path)
    assert resumable(run, "stages", lambda: {"seen": 3}) == ({"seen": 3}, False)
    assert read_marker(join(run, "steps", "stages")) == {"seen": 3}
    assert resumable(run, "stages", lambda: {"seen": 99}) == ({"seen": 3}, True)
