"""`codecorpus tokenizer` and `codecorpus shards`: train, count, list, write shards."""

from pathlib import Path
from typing import Annotated

import typer

tokenizer_app = typer.Typer(
    help="SentencePiece tokenizers: train on a version, count tokens, list stored ones.",
    no_args_is_help=True,
)
shards_app = typer.Typer(help="Token shards (Megatron indexed datasets).", no_args_is_help=True)

VersionOpt = Annotated[str, typer.Option("--version", "-v", help="Version of the dataset.")]
TokenizerOpt = Annotated[
    str | None,
    typer.Option(
        "--tokenizer",
        "-t",
        help="Stored tokenizer (sha256 or 8+ digit prefix); default: the version's own.",
    ),
]


@tokenizer_app.command("train")
def train(
    dataset: Annotated[str, typer.Argument(help="Dataset.")],
    version: VersionOpt,
    config: Annotated[
        Path | None,
        typer.Option("--config", exists=True, help="YAML of tokenizer settings (vocab_size...)."),
    ] = None,
    vocab_size: Annotated[int | None, typer.Option("--vocab-size")] = None,
) -> None:
    """Train a tokenizer on a version's kept files and store it in the warehouse."""
    from dataclasses import replace

    from corpus.cli.render import console
    from corpus.pipeline.tokenize_version import train_on_version
    from corpus.store.catalog import Catalog
    from tokenizer.config import TokenizerConfig

    settings = TokenizerConfig.from_file(config) if config else TokenizerConfig()
    if vocab_size is not None:
        settings = replace(settings, vocab_size=vocab_size)
    sha, record = train_on_version(Catalog(), dataset, version, settings)
    stats = record["stats"]
    console.print(
        f"trained tokenizer [bold]{sha}[/] ({settings.vocab_size:,} pieces) on "
        f"{stats['documents']:,} files, {stats['bytes']:,} bytes in {stats['seconds']:.1f} s"
    )


@tokenizer_app.command("count")
def count(
    dataset: Annotated[str, typer.Argument()], version: VersionOpt, tokenizer: TokenizerOpt = None
) -> None:
    """Exact token counts per language of a version's kept files."""
    from rich.table import Table

    from corpus.cli.render import console, token_progress
    from corpus.pipeline.tokenize_version import count_tokens
    from corpus.store.catalog import Catalog

    with token_progress("count") as progress:
        sha, totals = count_tokens(Catalog(), dataset, version, tokenizer, on_progress=progress)
    table = Table(title=f"{dataset}@{version} tokens with {sha[:12]}")
    for column in ("language", "files", "bytes", "tokens", "bytes/token"):
        table.add_column(column, justify="right" if column != "language" else "left")
    for lang, entry in totals.items():
        ratio = entry["bytes"] / entry["tokens"] if entry["tokens"] else 0.0
        table.add_row(
            lang,
            f"{entry['files']:,}",
            f"{entry['bytes']:,}",
            f"{entry['tokens']:,}",
            f"{ratio:.2f}",
        )
    console.print(table)


@tokenizer_app.command("list")
def list_tokenizers() -> None:
    """Stored tokenizers: id, vocabulary, what they were trained on."""
    from rich.table import Table

    from corpus.cli.render import console
    from corpus.core.settings import Settings
    from tokenizer.store import TokenizerStore

    store = TokenizerStore(Settings().resolved_warehouse())
    table = Table(title="tokenizers")
    for column in ("sha256", "vocab", "trained on", "sample bytes"):
        table.add_column(column)
    for sha in store.list():
        record = store.record(sha)
        table.add_row(
            sha[:16],
            str(record.get("config", {}).get("vocab_size")),
            f"{record.get('dataset')}@{record.get('version')}",
            f"{record.get('stats', {}).get('bytes', 0):,}",
        )
    console.print(table)


@shards_app.command("write")
def write(
    dataset: Annotated[str, typer.Argument()], version: VersionOpt, tokenizer: TokenizerOpt = None
) -> None:
    """Write a version's token shards with a tokenizer and list them in DATASET.shards."""
    from corpus.cli.render import console, token_progress
    from corpus.pipeline.tokenize_version import write_version_shards
    from corpus.store.catalog import Catalog

    with token_progress("shards") as progress:
        sha, rows = write_version_shards(
            Catalog(), dataset, version, tokenizer, on_progress=progress
        )
    tokens = sum(r["tokens"] for r in rows)
    console.print(f"wrote {len(rows)} shard(s), {tokens:,} tokens with {sha[:12]}")
