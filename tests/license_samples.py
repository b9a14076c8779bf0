"""A labelled license set from real packages on this machine, and its scoring.

Labels are what the packages declare in metadata (Python `License-Expression`
or trove classifiers; npm `license`); the prediction reads only their license
files, never the metadata it is checked against.
"""

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from corpus.core.license_class import LicenseClass, license_class
from corpus.licenses.evidence import EvidenceKind, analyse, evidence_kind, scope_of
from corpus.licenses.manifests import declared_license
from corpus.licenses.names import UNKNOWN, licensing
from corpus.licenses.scope import combine

NPM_ROOTS = [Path("/usr/lib/node_modules"), Path("/usr/local/lib/node_modules")]
#: Ids that name the same grant for the purpose of this comparison.
EQUIVALENT = {"Python-2.0.1": "PSF-2.0", "Python-2.0": "PSF-2.0", "CNRI-Python": "PSF-2.0"}


@dataclass
class LabelledRepo:
    name: str
    declared: str
    license_files: list[Path]


@dataclass
class Outcome:
    repo: LabelledRepo
    predicted: str | None
    seconds: float

    @property
    def keys_match(self) -> bool:
        return _keys(self.predicted) == _keys(self.repo.declared)

    @property
    def class_match(self) -> bool:
        return license_class(self.predicted) == license_class(self.repo.declared)

    @property
    def safe(self) -> bool:
        """Never calls permissive what the declaration says is not."""
        return not (license_class(self.predicted) == LicenseClass.PERMISSIVE
                    and license_class(self.repo.declared) != LicenseClass.PERMISSIVE)  # fmt: skip


def _keys(expression: str | None) -> frozenset[str]:
    if expression is None:
        return frozenset()
    keys = licensing().license_keys(expression)
    return frozenset(EQUIVALENT.get(k, k) for k in keys)


def python_repos() -> Iterator[LabelledRepo]:
    seen = set()
    for dist in sorted(metadata.distributions(), key=lambda d: d.metadata["Name"].lower()):
        name = dist.metadata["Name"]
        if name.lower() in seen:
            continue
        seen.add(name.lower())
        declared = declared_license("METADATA", dist.read_text("METADATA") or "")
        files = [  # the project's own license files: those PEP 639 places at its root
            Path(str(dist.locate_file(f)))
            for f in dist.files or []
            if ".dist-info/" in str(f)
            and evidence_kind(str(f)) == EvidenceKind.LICENSE_FILE
            and scope_of(str(f)) == ""
        ]
        if declared and declared != UNKNOWN and files:
            yield LabelledRepo(f"pypi:{name}", declared, sorted(files))


def npm_repos() -> Iterator[LabelledRepo]:
    for root in NPM_ROOTS:
        for manifest in sorted(root.glob("**/node_modules/*/package.json")) + sorted(
            root.glob("*/package.json")
        ):
            folder = manifest.parent
            declared = declared_license("package.json", manifest.read_text(errors="replace"))
            files = sorted(
                p for p in folder.iterdir()
                if p.is_file() and evidence_kind(p.name) == EvidenceKind.LICENSE_FILE
            )  # fmt: skip
            if declared and declared != UNKNOWN and files:
                yield LabelledRepo(f"npm:{folder.name}", declared, files)


def labelled_repos() -> list[LabelledRepo]:
    return [*python_repos(), *npm_repos()]


def predict(repo: LabelledRepo) -> Outcome:
    start = time.perf_counter()
    rows = []
    for path in repo.license_files:
        found = analyse(path.name if "licenses" not in path.parts else f"licenses/{path.name}",
                        path.read_text(errors="replace"))  # fmt: skip
        if found is not None:
            rows.append({"kind": found.kind.value, "expression": found.expression,
                         "score": found.score, "path": path.name})  # fmt: skip
    predicted = combine(rows).expression if rows else None
    return Outcome(repo, predicted, time.perf_counter() - start)


def score(outcomes: list[Outcome]) -> dict:
    n = max(1, len(outcomes))
    return {
        "repos": len(outcomes),
        "keys_accuracy": sum(o.keys_match for o in outcomes) / n,
        "class_accuracy": sum(o.class_match for o in outcomes) / n,
        "never_falsely_permissive": all(o.safe for o in outcomes),
    }


def report(outcomes: list[Outcome]) -> str:
    stats = score(outcomes)
    lines = [
        f"labelled repos: {stats['repos']}; license ids right: {stats['keys_accuracy']:.1%}; "
        f"permissive/not right: {stats['class_accuracy']:.1%}; "
        f"never falsely permissive: {stats['never_falsely_permissive']}",
        "disagreements (repo | declared | from license files):",
    ]
    for o in outcomes:
        if not o.keys_match:
            lines.append(f"  {o.repo.name} | {o.repo.declared} | {o.predicted}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(report([predict(r) for r in labelled_repos()]))
    print(json.dumps(score([predict(r) for r in labelled_repos()])))
