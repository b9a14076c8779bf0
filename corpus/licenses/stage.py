"""License stages: facts per file at ingest, license per file at curation."""

import pyarrow as pa

from corpus.core.license_class import license_class
from corpus.core.stage import Stage, set_columns
from corpus.licenses.evidence import EvidenceKind, analyse, spdx_header
from corpus.licenses.headers import candidates, header_notice
from corpus.licenses.scope import ScopeIndex, empty_evidence, source_expression

#: Context key under which curation hands the evidence table to LicenseStage.
EVIDENCE = "license_evidence"
#: `license_source` of a file whose license is its own header notice.
HEADER_SOURCE = "header"


class LicenseFactsStage(Stage):
    """Ingest: what each evidence file states, each file's SPDX header, and the license
    notice in the leading comments of every other file (kind `header`)."""

    name = "license_facts"
    adds = pa.schema(
        [
            pa.field("license_evidence_kind", pa.string()),
            pa.field("license_evidence", pa.string()),
            pa.field("license_evidence_score", pa.float64()),
            pa.field("spdx_header", pa.string()),
        ]
    )

    def __call__(self, batch: pa.Table) -> pa.Table:
        kinds, expressions, scores, headers = [], [], [], []
        paths = batch.column("path").to_pylist()
        contents = batch.column("content").to_pylist()
        noticed = candidates(batch.column("content"))
        for path, content, maybe in zip(paths, contents, noticed, strict=True):
            found = analyse(path, content)
            header = spdx_header(content)
            if found is None and header is None and maybe:
                notice = header_notice(content)
                if notice is not None:
                    kinds.append(EvidenceKind.HEADER.value)
                    expressions.append(notice.expression)
                    scores.append(notice.score)
                    headers.append(None)
                    continue
            kinds.append(found.kind.value if found else None)
            expressions.append(found.expression if found else None)
            scores.append(found.score if found else None)
            headers.append(header)
        return set_columns(batch, self.adds, (kinds, expressions, scores, headers))


class LicenseStage(Stage):
    """Curation: each file's license expression, its evidence and its class."""

    name = "licenses"
    adds = pa.schema(
        [
            pa.field("license", pa.string()),
            pa.field("license_class", pa.string()),
            pa.field("license_source", pa.string()),
            pa.field("license_score", pa.float64()),
        ]
    )

    def __init__(self, config, context=None) -> None:
        super().__init__(config, context)
        self.scopes = ScopeIndex(self.context.get(EVIDENCE, empty_evidence()))

    def __call__(self, batch: pa.Table) -> pa.Table:
        licenses, classes, sources, scores = [], [], [], []
        rows = zip(
            batch.column("repo").to_pylist(),
            batch.column("path").to_pylist(),
            batch.column("spdx_header").to_pylist(),
            batch.column("source_licenses").to_pylist(),
            batch.column("license_evidence_kind").to_pylist(),
            batch.column("license_evidence").to_pylist(),
            batch.column("license_evidence_score").to_pylist(),
            strict=True,
        )
        for repo, path, header, listed, kind, notice, notice_score in rows:
            if header:
                expression, source, score = header, "spdx-header", 1.0
            elif kind == EvidenceKind.HEADER and notice:
                # the file's own notice governs it, whatever its folder's license says
                expression, source, score = notice, HEADER_SOURCE, notice_score or 1.0
            else:
                found = self.scopes.resolve(repo, path)
                expression, source, score = found.expression, found.source, found.score
                if expression is None and (listed_expression := source_expression(listed)):
                    expression, source, score = listed_expression, "source-metadata", 0.5
            licenses.append(expression)
            classes.append(license_class(expression).value)
            sources.append(source)
            scores.append(score if expression else None)
        return set_columns(batch, self.adds, (licenses, classes, sources, scores))
