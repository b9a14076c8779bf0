"""The `codecorpus` command line: one typer module per command group over the pipeline and
the store, and the rich rendering (`render.py`), the only place that draws tables."""
