"""HumanEval from the installed wheel: canonical solutions pass, empty and wrong ones fail,
pass@k is the unbiased estimator, and hostile completions end as a failed sample only."""

import math
import os
import signal
from itertools import combinations

import pytest

from trainer.evaluation.humaneval import (
    check_completions,
    load_problems,
    pass_at_k,
    program,
    summarize,
)
from trainer.evaluation.sandbox import SandboxLimits, run_program

FAST = SandboxLimits(timeout=3, cpu_seconds=3)


@pytest.fixture(scope="module")
def problems():
    return load_problems()


def test_the_wheel_ships_all_164_problems(problems):
    assert len(problems) == 164 and problems[0].task_id == "HumanEval/0"
    assert len({p.task_id for p in problems}) == 164


def test_canonical_solutions_score_100_percent(problems):
    subset = problems[::8]  # 21 problems spread over the set
    records = check_completions(subset, [[p.canonical_solution] for p in subset], FAST)
    assert summarize(records, [1])["pass@1"] == 1.0, [r for r in records if not r["passed"]]


@pytest.mark.slow
def test_all_164_canonical_solutions_pass(problems):
    records = check_completions(problems, [[p.canonical_solution] for p in problems], FAST)
    assert summarize(records, [1]) == {"problems": 164, "samples": 1, "pass@1": 1.0,
                                       "passed_problems": 164}  # fmt: skip


def test_empty_and_wrong_completions_score_zero(problems):
    subset = problems[:6]
    empty = check_completions(subset, [[""] for _ in subset], FAST)
    wrong = check_completions(subset, [["    return None\n"] for _ in subset], FAST)
    for records in (empty, wrong):
        assert summarize(records, [1])["pass@1"] == 0.0
        assert {r["status"] for r in records} == {"failed"}


def test_pass_at_k_is_the_unbiased_estimator():
    for n in range(1, 8):
        for c in range(n + 1):
            for k in range(1, n + 1):
                # the probability that k of n samples drawn without replacement hold a pass
                draws = list(combinations([True] * c + [False] * (n - c), k))
                exact = sum(any(d) for d in draws) / len(draws)
                assert pass_at_k(n, c, k) == pytest.approx(exact, abs=1e-12)
    assert pass_at_k(200, 10, 1) == pytest.approx(10 / 200)
    assert pass_at_k(10, 1, 10) == 1.0
    assert 1 - math.comb(190, 10) / math.comb(200, 10) == pytest.approx(pass_at_k(200, 10, 10))


def test_summary_over_several_samples(problems):
    p = problems[2]
    records = check_completions([p], [[p.canonical_solution, "", "    return 0\n", ""]], FAST)
    summary = summarize(records, [1, 2, 4])
    assert summary["samples"] == 4 and summary["pass@1"] == pytest.approx(0.25)
    assert summary["pass@2"] == pytest.approx(0.5) and summary["pass@4"] == 1.0


HOSTILE = {
    "infinite loop": "while True:\n    pass\n",
    "fork bomb": "import posix\nwhile True:\n    try:\n        posix.fork()\n"
                 "    except OSError:\n        pass\n",
    "guarded fork": "import os\nwhile True:\n    os.fork()\n",
    "10 GB allocation": "x = bytearray(10 * 1024**3)\n",
    "huge print": "while True:\n    print('x' * 100_000)\n",
    "socket connect": "import _socket\ns = _socket.socket()\ns.settimeout(2)\n"
                      "s.connect(('1.1.1.1', 80))\n",
    "guarded socket": "import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=2)\n",
    "kill the parent": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n",
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_completions_fail_that_sample_only(name, problems):
    p = problems[0]
    completion = "    " + HOSTILE[name].replace("\n", "\n    ")
    (record,) = check_completions([p], [[completion]], FAST)
    assert not record["passed"] and record["status"] != "passed", record
    assert len(record["output"]) <= 1000
    # the caller (this test) is alive and the next sample runs normally
    (after,) = check_completions([p], [[p.canonical_solution]], FAST)
    assert after["passed"]


ISOLATED = run_program("pass", FAST).isolated


@pytest.mark.skipif(not ISOLATED, reason="no namespaces here (unshare refused)")
def test_namespaces_isolate_the_program():
    probe = ("import os, socket\n"
             "print(os.getpid(), os.getppid(), sorted(os.listdir('/tmp')))\n"
             "print(sorted(n for _, n in socket.if_nameindex()))\n")  # fmt: skip
    result = run_program(probe, FAST, guard=False)
    assert result.passed and result.isolated, result.output
    pids, interfaces = result.output.strip().splitlines()
    assert pids == "1 0 ['sandbox']"  # first of its own PID namespace; a private /tmp
    assert interfaces == "['lo']"  # its own network namespace


@pytest.mark.skipif(not ISOLATED and os.geteuid() != 0,
                    reason="neither a PID namespace nor another uid separates us here")
def test_kill_signals_cannot_reach_the_caller():
    # posix.kill skips the guard: the PID namespace (or nobody's uid) stops it.
    me = os.getpid()
    result = run_program(f"import posix\nposix.kill({me}, {int(signal.SIGKILL)})\n"
                         f"posix.kill(-{os.getpgid(me)}, {int(signal.SIGKILL)})\n"
                         "raise SystemExit(3)\n", FAST)  # fmt: skip
    assert not result.passed and result.status in ("failed", "killed:SIGKILL")


def test_writes_outside_the_private_folder_do_not_land(tmp_path):
    target = tmp_path / "escaped.txt"
    os.chmod(tmp_path, 0o777)  # even a world-writable folder outside is out of reach
    result = run_program(f"open({str(target)!r}, 'w').write('x')\n", FAST)
    assert not result.passed and not target.exists()
    tmp_target = "/tmp/codecorpus-escape-test.txt"
    openers = ("open({!r}, 'w').write('x')", "import os\nos.open({!r}, os.O_CREAT | os.O_WRONLY)")
    for opener in openers:
        result = run_program(opener.format(tmp_target), FAST)
        assert not result.passed and "PermissionError" in result.output
        assert not os.path.exists(tmp_target)
    if ISOLATED:  # without the guard, the mount namespace holds: a private tmpfs over /tmp
        result = run_program(f"open({str(target)!r}, 'w').write('x')\n", FAST, guard=False)
        assert not target.exists()
    inside = run_program("open('notes.txt', 'w').write('x')\nprint(open('notes.txt').read())")
    assert inside.passed and inside.output.strip() == "x"  # its own folder is writable


def test_the_guarded_program_still_runs_ordinary_code(problems):
    p = problems[10]
    assert "check(" in program(p, p.canonical_solution)
    ok = run_program("import math, re, collections, itertools\nprint(math.factorial(5))", FAST)
    assert ok.passed and ok.output.strip() == "120"
