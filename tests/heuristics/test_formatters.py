"""Formatters rewrite content (before/after on real files); rules never do."""

import base64
import json

from heuristics.config import StripConfig
from heuristics.notebooks import notebook_to_script
from heuristics.strip import HtmlCssStripper
from tests.heuristics.samples import NOTEBOOK, package_file, row, stdlib_file, text_row

RAY_CSS = "dashboard/client/build/static/css/main.*.css"


def werkzeug(name: str) -> bytes:
    return package_file("werkzeug", f"debug/shared/{name}").read_bytes()


def test_html_strips_data_uris_and_long_inline_bodies_keeping_the_rest() -> None:
    page = stdlib_file("idlelib/help.html").read_text()
    script = werkzeug("debugger.js").decode()  # 10 kB of real JavaScript
    style = werkzeug("style.css").decode()  # 6 kB of real CSS
    png = base64.b64encode(werkzeug("console.png")).decode()  # a real 507-byte icon
    short = "<script>var ready = true;</script>"
    insert = (
        f"<style>{style}</style><script>{script}</script>{short}"
        f'<img alt="console" src="data:image/png;base64,{png}">'
    )
    before = page.replace("</head>", insert + "</head>", 1)
    expected = page.replace(
        "</head>",
        f'<style></style><script></script>{short}<img alt="console" src="data:image/png;base64,">'
        "</head>",
        1,
    )
    assert HtmlCssStripper(StripConfig()).strip(before, html=True) == expected


def test_css_minified_lines_go_and_readable_css_stays() -> None:
    stripper = HtmlCssStripper(StripConfig())
    minified = package_file("ray", RAY_CSS).read_text()
    after = stripper.strip(minified, html=False)
    assert after == "\n".join(line for line in minified.split("\n") if len(line) <= 1000)
    assert after.startswith("/*# sourceMappingURL=")  # only the source-map comment was short
    readable = werkzeug("style.css").decode()
    assert stripper.strip(readable, html=False) == readable


def test_base64_blobs_outside_data_uris() -> None:
    blob = base64.b64encode(werkzeug("console.png")).decode()
    css = f"/* sprite: {blob} */\n.console {{ color: red; }}\n"
    after = HtmlCssStripper(StripConfig()).strip(css, html=False)
    assert after == "/* sprite:  */\n.console { color: red; }\n"


def test_stage_records_formatter_and_stripped_bytes(stages) -> None:
    css = row(package_file("ray", RAY_CSS))
    readable = row(package_file("werkzeug", "debug/shared/style.css"))
    licensed_out = row(package_file("ray", RAY_CSS), drop_reason="license:non_permissive")
    out = stages.run([css, readable, licensed_out], preset="replit")
    assert out.column("formatter").to_pylist() == ["html_css", None, None]
    before = css["content"]
    after = out.column("content").to_pylist()[0]
    assert out.column("stripped_bytes").to_pylist() == [
        len(before.encode()) - len(after.encode()), 0, 0,
    ]  # fmt: skip
    assert out.column("content").to_pylist()[2] == before  # dropped files are not rewritten
    assert out.column("max_line_length").to_pylist()[0] < 1000  # signals see the new content


def test_notebook_becomes_code_and_markdown_without_outputs(stages) -> None:
    before = NOTEBOOK.read_text()
    out = stages.run([row(NOTEBOOK)], preset="replit")
    after = out.column("content").to_pylist()[0]
    assert after == (
        "# %% [markdown]\n"
        "# # Word lengths\n"
        "\n"
        "# %%\n"
        'words = ["hello", "world"]\n'
        "print([len(word) for word in words])\n"
    )
    assert "[5, 5]" in before and "[5, 5]" not in after  # outputs dropped
    assert out.column("formatter").to_pylist() == ["notebook"]
    assert out.column("stripped_bytes").to_pylist() == [len(before.encode()) - len(after.encode())]
    assert out.column("notebook_valid").to_pylist() == [True]  # measured before conversion
    assert out.column("drop_reason").to_pylist() == [None]


def test_notebook_options_and_other_kernels() -> None:
    notebook = json.loads(NOTEBOOK.read_text())
    assert notebook_to_script(notebook, markdown=False) == (
        '# %%\nwords = ["hello", "world"]\nprint([len(word) for word in words])\n'
    )
    notebook["metadata"] = {"kernelspec": {"language": "javascript"}}
    assert notebook_to_script(notebook).startswith("// %% [markdown]\n// # Word lengths\n")
    v3 = {"worksheets": [{"cells": [{"cell_type": "code", "input": ["x = 1\n"]}]}]}
    assert notebook_to_script(v3) == "# %%\nx = 1\n"


def test_invalid_notebooks_stay_and_presets_without_formatters_change_nothing(stages) -> None:
    broken = text_row("broken.ipynb", NOTEBOOK.read_text()[:300], "Jupyter Notebook")
    out = stages.run([broken], preset="replit")
    assert out.column("content").to_pylist() == [broken["content"]]
    assert out.column("formatter").to_pylist() == [None]
    assert out.column("drop_reason").to_pylist() == ["quality:invalid_notebook"]
    css = row(package_file("ray", RAY_CSS))
    untouched = stages.run([css], preset="starcoder")
    assert untouched.column("content").to_pylist() == [css["content"]]
    assert untouched.column("stripped_bytes").to_pylist() == [0]
