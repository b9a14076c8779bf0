"""A labelled PII set: real source files of installed packages with planted personal data and
secrets at known offsets, plus real lookalikes that must be kept (shared by the tests and
benchmarks/pii.py)."""

import random
import string
import sys
from dataclasses import dataclass
from pathlib import Path

from heuristics.pii import PiiKind, find_pii


@dataclass(frozen=True)
class Planted:
    text: str
    truth: list[tuple[int, int, PiiKind]]  # (start, end, kind) of every planted value
    path: str


def real_files(count: int, seed: int = 0) -> list[tuple[str, str]]:
    """(path, text) of real .py files of the standard library with no PII of their own."""
    root = (
        Path(sys.base_prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    )
    paths = sorted(p for p in root.glob("*.py") if 2_000 < p.stat().st_size < 60_000)
    random.Random(seed).shuffle(paths)
    out = []
    for path in paths:
        text = path.read_text(encoding="utf-8", errors="replace")
        if not find_pii(text, str(path)):  # files whose own content has no detection
            out.append((str(path), text))
        if len(out) == count:
            break
    return out


def _rand(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


TEMPLATES = {
    "email": ["# Author: Jane <{v}>", "MAINTAINER = '{v}'", "    # ask {v} first"],
    "ip": ["SERVER = '{v}'", '    host = "{v}"', "# prod db at {v}:5432"],
    "aws": ["AWS_ACCESS_KEY_ID = '{v}'"],
    "github": ['    token = "{v}"'],
    "slack": ["SLACK_BOT = '{v}'"],
    "stripe": ['stripe.api_key = "{v}"'],
    "password": ['DB_PASSWORD = "{v}"', "    password = '{v}'", 'passwd: "{v}"'],
}


def planted_value(kind: str, rng: random.Random) -> tuple[str, str, PiiKind]:
    """(line template with {v}, value, kind) of one realistic planted item."""
    up, al = string.ascii_uppercase + string.digits, string.ascii_letters + string.digits
    n = rng.randint
    values = {
        "email": lambda: (
            rng.choice(["jane.doe", "k.tanaka", "mhernandez", "olga_p"])
            + "@"
            + rng.choice(["acme-corp.com", "uni-heidelberg.de", "mail.ru", "fastmail.fm"])
        ),
        "ip": lambda: f"{n(11, 99)}.{n(1, 254)}.{n(1, 254)}.{n(1, 254)}",
        "aws": lambda: "AKIA" + _rand(rng, up.replace("0", ""), 16),
        "github": lambda: "ghp_" + _rand(rng, al, 36),
        "slack": lambda: f"xoxb-{n(10**11, 10**12)}-{n(10**11, 10**12)}-{_rand(rng, al, 24)}",
        "stripe": lambda: "sk_live_" + _rand(rng, al, 24),
        "password": lambda: _rand(rng, al, 6) + rng.choice("!#%&*") + _rand(rng, al, 5),
    }
    kinds = {"email": PiiKind.EMAIL, "ip": PiiKind.IP_ADDRESS, "password": PiiKind.PASSWORD}
    return rng.choice(TEMPLATES[kind]), values[kind](), kinds.get(kind, PiiKind.KEY)


KINDS = ("email", "ip", "aws", "github", "slack", "stripe", "password")

#: Real lookalikes that are no PII: documentation and reserved values, versions, hashes.
LOOKALIKES = (
    "# see https://example.com or write to support@example.com",
    "    user = 'nobody@example.org'",
    "    url = 'git@github.com:python/cpython.git'",
    "LOCAL = '192.168.10.24'; TEST_NET = '203.0.113.9'; LOOPBACK = '127.0.0.1'",
    "DNS = '8.8.8.8'",
    "__version__ = '2.31.0.1'",
    "    requires = 'numpy>=1.26.4.0'",
    "EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'",
    "UUID = '123e4567-e89b-12d3-a456-426614174000'",
    "AWS_EXAMPLE = 'AKIAIOSFODNN7EXAMPLE'",
    "password = os.environ['DB_PASSWORD']",
    "password = getpass.getpass()",
    "PASSWORD = '${DB_PASSWORD}'",
    "    token = request.headers.get('Authorization')",
    "icon = 'logo@2x.png'; y = x@self.weight",
    "    addr = '::1'  # std::vector<int> v;",
)


def planted_set(files: int, per_kind: int = 1, seed: int = 0) -> list[Planted]:
    """Each real file gets `per_kind` values of every kind and every lookalike, on new lines
    inserted at random line boundaries."""
    rng = random.Random(seed)
    out = []
    for path, text in real_files(files, seed):
        lines = text.splitlines(keepends=True)
        inserts = [
            (rng.randint(0, len(lines)), *planted_value(k, rng))
            for k in KINDS
            for _ in range(per_kind)
        ]
        inserts += [(rng.randint(0, len(lines)), line, None, None) for line in LOOKALIKES]
        by_position: dict[int, list] = {}
        for at, template, value, kind in inserts:
            by_position.setdefault(at, []).append((template, value, kind))
        pieces, truth, offset = [], [], 0
        for index in range(len(lines) + 1):
            for template, value, kind in by_position.get(index, []):
                line = template.format(v=value) + "\n" if value else template + "\n"
                if value:
                    start = offset + line.index(value)
                    truth.append((start, start + len(value), kind))
                pieces.append(line)
                offset += len(line)
            if index < len(lines):
                pieces.append(lines[index])
                offset += len(lines[index])
        out.append(Planted("".join(pieces), truth, path))
    return out


def score(samples: list[Planted]) -> dict[PiiKind, dict[str, float]]:
    """Precision and recall per kind: a found span is right when it overlaps a planted value
    of its kind."""
    found = {k: 0 for k in PiiKind}
    right = {k: 0 for k in PiiKind}
    planted = {k: 0 for k in PiiKind}
    caught = {k: 0 for k in PiiKind}
    for sample in samples:
        spans = find_pii(sample.text, sample.path)
        for kind in PiiKind:
            mine = [s for s in spans if s.kind == kind]
            truth = [t for t in sample.truth if t[2] == kind]
            found[kind] += len(mine)
            right[kind] += sum(any(s.start < e and b < s.end for b, e, _ in truth) for s in mine)
            planted[kind] += len(truth)
            caught[kind] += sum(any(s.start < e and b < s.end for s in mine) for b, e, _ in truth)
    return {
        k: {
            "planted": planted[k], "found": found[k],
            "precision": right[k] / found[k] if found[k] else 1.0,
            "recall": caught[k] / planted[k] if planted[k] else 1.0,
        }
        for k in PiiKind
    }  # fmt: skip
