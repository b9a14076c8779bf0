"""Presets differ as the recipes they follow: the same real files, different decisions."""

from tests.heuristics.samples import package_file, row, stdlib_file, text_row

RAY_BUILD = "dashboard/client/build"


def markdown_with_a_long_paragraph() -> dict:
    """A real Markdown file plus its prose joined into one line (as many READMEs are written)."""
    text = package_file("typer", ".agents/skills/typer/SKILL.md").read_text()
    prose = [line for line in text.split("\n") if line[:1].isalpha()]
    long_line = " ".join(prose)
    assert 1000 < len(long_line) < 100_000
    return text_row("SKILL.md", text + "\n" + long_line + "\n")


def files() -> dict[str, dict]:
    return {
        "versions": row(package_file("rich", "_unicode_data/_versions.py")),
        "svg": row(package_file("ray", f"{RAY_BUILD}/static/media/logo.*.svg")),
        "json": row(package_file("botocore", "data/_retry.json")),
        "pem_in_python": row(package_file("moto", "acm/models.py")),
        "minified_css": row(package_file("ray", f"{RAY_BUILD}/static/css/main.*.css")),
        "markdown": markdown_with_a_long_paragraph(),
        "app_shell": row(package_file("ray", f"{RAY_BUILD}/speedscope-*/index.html")),
        "module": row(stdlib_file("json/__init__.py")),
    }


EXPECTED = {
    #                codex                 starcoder            starcoder2               replit
    "versions": (None, "alphabetic", "alphabetic", "alphabetic"),
    "svg": (None, "xml_header", "xml_header", "xml_header"),
    "json": (None, "data_size", "data_size", "data_size"),
    "pem_in_python": (None, None, "encoded_data", None),
    "minified_css": ("max_line_length", "max_line_length", "linguist_generated", None),
    "markdown": ("max_line_length", None, None, None),
    "app_shell": ("mean_line_length", "mean_line_length", "html_visible_text", "mean_line_length"),
    "module": (None, None, None, None),
}


def test_presets_decide_differently_on_the_same_files(stages) -> None:
    rows = files()
    for column, preset in enumerate(("codex", "starcoder", "starcoder2", "replit")):
        reasons = stages.reasons(list(rows.values()), preset=preset)
        expected = [EXPECTED[name][column] for name in rows]
        assert reasons == [f"quality:{r}" if r else None for r in expected], preset


def test_replit_rescues_minified_css_by_stripping(stages) -> None:
    out = stages.run([files()["minified_css"]], preset="replit")
    assert out.column("formatter").to_pylist() == ["html_css"]
    assert out.column("stripped_bytes").to_pylist()[0] > 6000


def test_default_preset_is_replit_on_the_reference_languages(stages) -> None:
    from corpus.core.languages import REFERENCE_LANGUAGES
    from corpus.pipeline.config import CurationConfig

    default = CurationConfig().heuristics
    assert default.preset == "replit"
    assert default.languages == tuple(sorted(REFERENCE_LANGUAGES)) and len(default.languages) == 20
    assert default.resolved.formatters == ("notebook", "html_css")
    svg, module = files()["svg"], files()["module"]
    reasons = stages.reasons([svg, module], languages=default.languages)
    assert reasons == ["language:not_selected", None]  # SVG is not a reference language
