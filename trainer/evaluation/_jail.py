"""Started by trainer.evaluation.sandbox as `python -I _jail.py SPEC.json`; stdlib only.

It isolates itself and then runs the program: new network (no interface up), PID (the
program cannot see or signal anything outside, and when its first process exits the kernel
kills every process left in it) and mount namespaces, entered with a new user namespace where
not root. In the mount namespace fresh tmpfs folders cover /tmp, /var/tmp and /dev/shm, so
the program's private folder is one nobody else sees, and the world-writable places outside
it are gone. Root drops to `nobody` so RLIMIT_NPROC applies and nothing else is writable.
Then the resource limits, then exec. Writes a JSON line to the report file saying which
isolation it got; exits with the program's status.
"""

import ctypes
import json
import os
import resource
import sys

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x20000, 0x10000000, 0x20000000, 0x40000000
MS_NOSUID, MS_NODEV, MS_REC, MS_PRIVATE = 2, 4, 0x4000, 0x40000
NOBODY = 65534
_libc = ctypes.CDLL(None, use_errno=True)


def _isolate(root: bool) -> bool:
    flags = CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWNS | (0 if root else CLONE_NEWUSER)
    if _libc.unshare(flags) != 0:
        return False
    if _libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        return False
    for folder in (b"/tmp", b"/var/tmp", b"/dev/shm"):
        if os.path.isdir(folder):
            ok = _libc.mount(b"tmpfs", folder, b"tmpfs", MS_NOSUID | MS_NODEV,
                             b"size=256m,mode=1777")
            if ok != 0:
                return False
    return True


def main() -> None:
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    with open(spec["program"]) as f:
        source = f.read()
    report = open(spec["report"], "w")  # noqa: SIM115 - opened before /tmp is covered
    root = os.geteuid() == 0
    isolated = _isolate(root)
    report.write(json.dumps({"namespaces": isolated, "nobody": root}))
    report.close()
    work = "/tmp/sandbox" if isolated else os.path.dirname(spec["program"])
    home = os.path.join(work, "home")
    os.makedirs(home, exist_ok=True)
    program = os.path.join(work, "program.py")
    with open(program, "w") as f:
        f.write(source)
    if root:
        os.chown(home, NOBODY, NOBODY)
    env = dict(spec["env"], HOME=home, TMPDIR=home)
    pid = os.fork()  # the first process of the new PID namespace
    if pid == 0:
        limits = spec["limits"]
        resource.setrlimit(resource.RLIMIT_AS, (limits["memory"],) * 2)
        resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu"], limits["cpu"] + 1))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits["fsize"],) * 2)
        resource.setrlimit(resource.RLIMIT_NPROC, (limits["nproc"],) * 2)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if root:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
        os.chdir(home)
        # nobody may not reach our interpreter (under /root): then a system Python 3
        for python in (os.path.realpath(sys.executable), "/usr/local/bin/python3",
                       "/usr/bin/python3"):
            try:
                os.execve(python, [python, "-I", program], env)
            except OSError:
                continue
        sys.stderr.write("sandbox: no Python interpreter this user may run\n")
        os._exit(127)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    os._exit(code if code >= 0 else 128 - code)


main()
