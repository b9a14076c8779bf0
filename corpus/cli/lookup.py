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
        list[Path], typer.Argument(help="Files to look up.", exists=True, dir_okay=False)
    ],
    version: Annotated[str, typer.Option("--version", "-v", help="Version to search.")],
    exact: Annotated[
        bool, typer.Option("--exact-jaccard", help="Also the exact Jaccard of kept matches.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Is FILE in the version? Its exact copies (sha256) and near-duplicates."""
    from corpus.cli.render import console
    from corpus.store.catalog import Catalog
    from corpus.store.lookup_index import add_exact_jaccard, load_index, lookup
    from corpus.store.versions import Registry

    catalog = Catalog()
    found = Registry(catalog, dataset).get(version)
    index = load_index(catalog, dataset, found)
    texts = []
    for path in files:
        data = path.read_bytes()
        try:
            texts.append(data.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise CodecorpusError(f"{path} is not UTF-8 text; lookups compare text") from exc
    answers = lookup(index, texts, [str(p) for p in files])
    if exact:
        add_exact_jaccard(catalog, dataset, found, texts, answers)
    if as_json:
        rows = [
            {
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
            for a in answers
        ]
        console.print_json(json.dumps(rows))
        return
    for a in answers:
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
