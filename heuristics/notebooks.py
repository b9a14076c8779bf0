"""Jupyter notebooks: validity, and conversion to script text (jupytext's percent format).

Code cells become code under `# %%` markers, markdown cells become comments
under `# %% [markdown]`, outputs and execution counts are dropped: what a model
should learn from is the code and the prose, not rendered results or images.
Both nbformat 4 (`cells`) and nbformat 3 (`worksheets`) are read.
"""

import json
from typing import Any

#: Kernel language -> line comment prefix; anything else uses `#`.
COMMENT_PREFIX: dict[str, str] = {
    "c": "//", "c++": "//", "cpp": "//", "java": "//", "javascript": "//", "typescript": "//",
    "scala": "//", "kotlin": "//", "go": "//", "rust": "//", "csharp": "//", "c#": "//",
    "swift": "//", "sql": "--", "haskell": "--", "lua": "--", "matlab": "%", "octave": "%",
}  # fmt: skip


def parse_notebook(text: str) -> dict[str, Any] | None:
    """The notebook as a dict when `text` is a readable notebook, else None."""
    try:
        notebook = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(notebook, dict):
        return None
    cells = _cells(notebook)
    if cells is None or not all(isinstance(c, dict) and "cell_type" in c for c in cells):
        return None
    return notebook


def is_valid_notebook(text: str) -> bool:
    return parse_notebook(text) is not None


def _cells(notebook: dict[str, Any]) -> list[Any] | None:
    if isinstance(notebook.get("cells"), list):
        return notebook["cells"]
    worksheets = notebook.get("worksheets")
    if isinstance(worksheets, list) and all(isinstance(w, dict) for w in worksheets):
        cells = [c for w in worksheets for c in (w.get("cells") or [])]
        return cells
    return None


def kernel_language(notebook: dict[str, Any]) -> str:
    metadata = notebook.get("metadata") or {}
    for source in (metadata.get("kernelspec") or {}, metadata.get("language_info") or {}):
        name = source.get("language") or source.get("name")
        if isinstance(name, str) and name:
            return name.lower()
    return str(metadata.get("language") or "python").lower()


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", cell.get("input", ""))
    if isinstance(source, list):
        return "".join(str(part) for part in source)
    return str(source or "")


def notebook_to_script(notebook: dict[str, Any], markdown: bool = True) -> str:
    """Code and (optionally) markdown of every cell, in order, as one script."""
    prefix = COMMENT_PREFIX.get(kernel_language(notebook), "#")
    parts = []
    for cell in _cells(notebook) or []:
        kind, source = cell.get("cell_type"), _source(cell).rstrip("\n")
        if kind == "code":
            parts.append(f"{prefix} %%\n{source}" if source else f"{prefix} %%")
        elif kind in ("markdown", "heading") and markdown and source.strip():
            commented = "\n".join(f"{prefix} {line}".rstrip() for line in source.split("\n"))
            parts.append(f"{prefix} %% [markdown]\n{commented}")
    return "\n\n".join(parts) + "\n" if parts else ""
