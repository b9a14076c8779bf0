"""Keep only permissively licensed code, and honour opt-out requests.

Rules, in order: `governance:opt_out` (the author asked to be left out), then
the allow-list: a file is kept when its license expression is allowed (every
branch of an AND, at least one branch of an OR); otherwise it is dropped as
`license:non_permissive`, `license:no_license` or `license:unknown`.
"""

import fnmatch
import re
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from corpus.core.license_class import Verdict, evaluate, is_permissive
from corpus.core.reasons import DropReason
from corpus.core.stage import CurationConfig
from heuristics.license_config import LicenseConfig
from heuristics.rules import Rule, RuleStage

#: Context key under which curation hands the active opt-out entries to the stage.
OPT_OUT = "opt_out"


class AllowList:
    def __init__(self, config: LicenseConfig) -> None:
        self.allow = None if config.allow is None else frozenset(config.allow)
        self.deny = frozenset(config.deny)
        self.verdict = cache(self._verdict)

    def allowed(self, key: str) -> Verdict:
        if key in self.deny:
            return False
        if self.allow is not None and key not in self.allow:
            return None if is_permissive(key) is None else False  # unknown stays unknown
        return True if self.allow is not None else is_permissive(key)

    def _verdict(self, expression: str | None) -> Verdict | str:
        return "none" if expression is None else evaluate(expression, self.allowed)


class _LicenseVerdictRule(Rule):
    """Shared: one verdict per distinct expression (a batch holds few), then a mask."""

    wanted: Verdict | str

    def __init__(self, allow_list: AllowList) -> None:
        self.allow_list = allow_list

    def keep(self, batch: pa.Table) -> pa.Array:
        expressions = batch.column("license").to_pylist()
        return pa.array(
            [self.allow_list.verdict(e) != self.wanted for e in expressions], pa.bool_()
        )


class NoLicenseRule(_LicenseVerdictRule):
    reason = DropReason.LICENSE_NO_LICENSE
    wanted = "none"


class NonPermissiveRule(_LicenseVerdictRule):
    reason = DropReason.LICENSE_NON_PERMISSIVE
    wanted = False


class UnknownLicenseRule(_LicenseVerdictRule):
    reason = DropReason.LICENSE_UNKNOWN
    wanted = None


class OptOutRule(Rule):
    """Drops files of opted-out repositories, owners and path globs."""

    reason = DropReason.GOVERNANCE_OPT_OUT

    def __init__(self, entries: Sequence[Mapping[str, Any]]) -> None:
        self.repos = [e["pattern"] for e in entries if e["kind"] == "repo"]
        self.owners = [e["pattern"].rstrip("/") + "/" for e in entries if e["kind"] == "owner"]
        # RE2 (Arrow's regex engine) spells Python's end-of-text anchor \Z as $
        globs = [
            "^" + fnmatch.translate(e["pattern"]).replace(r"\Z", "$")
            for e in entries
            if e["kind"] == "glob"
        ]
        self.globs = re.compile("|".join(globs)) if globs else None

    def keep(self, batch: pa.Table) -> pa.ChunkedArray:
        repo = batch.column("repo")
        out = pc.is_in(repo, value_set=pa.array(self.repos, pa.string()))
        for owner in self.owners:
            out = pc.or_(out, pc.starts_with(repo, owner))
        if self.globs is not None:
            full = pc.binary_join_element_wise(repo, batch.column("path"), "/")
            out = pc.or_(out, pc.match_substring_regex(full, self.globs.pattern))
        return pc.invert(out)


class LicenseRuleStage(RuleStage):
    name = "license_rules"

    def build_rules(self, config: CurationConfig) -> list[Rule]:
        allow_list = AllowList(config.licenses)
        rules: list[Rule] = []
        if config.licenses.honour_opt_out:
            rules.append(OptOutRule(self.context.get(OPT_OUT, [])))
        rules += [NoLicenseRule(allow_list), NonPermissiveRule(allow_list),
                  UnknownLicenseRule(allow_list)]  # fmt: skip
        return rules
