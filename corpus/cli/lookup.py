"""`codecorpus index build` and `codecorpus lookup`: a version's near-duplicate lookup index."""

import json
from pathlib import Path
from typing import Annotated

import typer

from corpus.core.errors import CodecorpusError

index_app = typer.Typer(
    help="Lookup indexes of versions (near-duplicate search).", no_args_is_help=True
)


@index_app.command("build")
def build(
    dataset: Annotated[str, typer.Argument(help="Dataset.")],
    version: Annotated[str, typer.Option("--version", "-v", help="Version to index.")],
    force: Annotated[bool, typer.Option("--force", help="Replace an existing index.")] = False,
) -> None:
    """Index VERSION's MinHash signatures (in Redis when CODECORPUS_LOOKUP_REDIS_URL is set)."""
    from corpus.cli.render import console
    from corpus.store.catalog import Catalog
    from corpus.store.lookup_index import build_index

    manifest = build_index(Catalog(), dataset, version, force)
    console.print(
        f"indexed {dataset}@{version}: {manifest['signatures']:,} signatures of "
        f"{manifest['files']:,} files ({manifest['storage']}, {manifest['build_seconds']:.1f} s)"
    )


def lookup_command(
    dataset: Annotated[str, typer.Argument(help="Dataset.")],
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="Files to look up.", exists=True, dir_okay=False, show_default=False),
    ] = None,
    version: Annotated[str, typer.Option("--version", "-v", help="Version to search.")] = "",
    benchmark: Annotated[
        str | None,
        typer.Option(
            "--benchmark",
            help="Decontamination: look up every item of a benchmark (humaneval, or a JSONL "
            "file of {content|text|prompt+canonical_solution, task_id|name}) and report "
            "which have exact copies or near-duplicates in the version.",
        ),
    ] = None,
    exact: Annotated[
        bool, typer.Option("--exact-jaccard", help="Also the exact Jaccard of kept matches.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Is FILE in the version? Its exact copies (sha256) and near-duplicates; with --benchmark,
    which benchmark items are."""
    from corpus.cli.render import console
    from corpus.store.catalog import Catalog
    from corpus.store.lookup_index import add_exact_jaccard, load_index, lookup
    from corpus.store.versions import Registry

    if not version:
        raise CodecorpusError("name the version to search: --version V (-v V)")
    if not files and benchmark is None:
        raise CodecorpusError("give FILE... to look up, or --benchmark humaneval|FILE.jsonl")
    catalog = Catalog()
    found = Registry(catalog, dataset).get(version)
    index = load_index(catalog, dataset, found)
    if benchmark is not None:
        _benchmark(catalog, dataset, found, index, benchmark, exact, as_json)
        if not files:
            return
    texts = []
    for path in files or []:
        data = path.read_bytes()
        try:
            texts.append(data.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise CodecorpusError(f"{path} is not UTF-8 text; lookups compare text") from exc
    answers = lookup(index, texts, [str(p) for p in files or []])
    if exact:
        add_exact_jaccard(catalog, dataset, found, texts, answers)
    if as_json:
        console.print_json(json.dumps([_answer_json(a) for a in answers]))
        return
    for a in answers:
        _print_answer(console, a)


def _answer_json(a) -> dict:
    return {
        "file": a.name,
        "sha256": a.sha256,
        "exact": [e.file_id for e in a.exact],
        "near": [
            {
                "file_id": m.entry.file_id,
                "repo": m.entry.repo,
                "path": m.entry.path,
                "kept": m.entry.drop_reason is None,
                "estimated_jaccard": m.estimated_jaccard,
                "exact_jaccard": a.exact_jaccard.get(m.entry.file_id),
            }
            for m in a.near
        ],
    }


def _print_answer(console, a) -> None:
    console.print(f"[bold]{a.name}[/bold]: {len(a.exact)} exact, {len(a.near)} near")
    for e in a.exact:
        console.print(
            f"  exact  {e.repo}/{e.path}  {'kept' if e.drop_reason is None else e.drop_reason}"
        )
    for m in a.near:
        extra = a.exact_jaccard.get(m.entry.file_id)
        shown = f" exact {extra:.3f}" if extra is not None else ""
        console.print(
            f"  near   {m.entry.repo}/{m.entry.path}  est {m.estimated_jaccard:.3f}"
            f"{shown}  {'kept' if m.entry.drop_reason is None else m.entry.drop_reason}"
        )


def _benchmark(catalog, dataset, version, index, spec, exact, as_json) -> None:
    from corpus.cli.render import console
    from corpus.store.contamination import benchmark_items, check_benchmark
    from corpus.store.lookup_index import add_exact_jaccard

    items = benchmark_items(spec)
    report = check_benchmark(index, items)
    if exact and report.answers:
        texts = {i.name: i.text for i in items}
        add_exact_jaccard(catalog, dataset, version, [texts[a.name] for a in report.answers],
                          report.answers)  # fmt: skip
    if as_json:
        console.print_json(json.dumps({
            "dataset": dataset, "version": version.name, "benchmark": spec,
            "items": report.items, "contaminated": report.contaminated,
            "matches": [_answer_json(a) for a in report.answers],
        }))  # fmt: skip
        return
    console.print(
        f"{spec}: {report.contaminated} of {report.items} items have exact copies or "
        f"near-duplicates in {dataset}@{version.name}"
    )
    for a in report.answers:
        _print_answer(console, a)
