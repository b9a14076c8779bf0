"""The `heuristics:` section of the curation config: preset, rules, thresholds, formatters.

Every field documents itself, as in `corpus.pipeline.config`. A preset supplies the rule
list, the formatters and per-language/per-extension threshold overrides; the
config's own fields override the preset. The resolved policy is stored in the
derived field `resolved`, so the config fingerprint of a version covers the
effective thresholds, not only the preset's name.

A threshold set to `null` switches that limit off (for a language, an extension
or everywhere). For one file the limit comes from its extension's overrides,
else its language's, else `thresholds`. For example:

    heuristics:
      preset: starcoder2            # codex | starcoder | starcoder2 | replit (default)
      languages: [Python, Go]       # null keeps every language
      add_rules: [comments]
      skip_rules: [linguist_generated]
      thresholds: {max_line_length: 2000}
      by_language:
        Markdown: {max_line_length: null, mean_line_length: null}
      by_extension:
        pyi: {mean_line_length: 120}
      strip: {max_inline_chars: 4000}
"""

from dataclasses import dataclass, field, fields
from typing import Any

from corpus.core.config import ConfigBase
from corpus.core.errors import ConfigError
from corpus.core.languages import REFERENCE_LANGUAGES
from heuristics.presets import FORMATTER_ORDER, PRESETS, RULE_ORDER


def _reference_languages() -> tuple[str, ...]:
    return REFERENCE_LANGUAGES


@dataclass(frozen=True)
class Thresholds(ConfigBase):
    """Limits the quality rules compare signals with; `None` switches a limit off."""

    section = "heuristics.thresholds"

    max_line_length: int | None = 1000
    """`max_line_length`: drop when the longest line has more characters."""
    mean_line_length: float | None = 100
    """`mean_line_length`: drop when the mean line length is above this."""
    min_alphanumeric: float | None = 0.25
    """`alphanumeric`: drop when letters and digits are a smaller share of the characters."""
    min_alphabetic: float | None = 0.25
    """`alphabetic`: drop when letters are a smaller share of the characters."""
    max_lines: int | None = 100_000
    """`max_lines`: drop files with more lines."""
    data_min_chars: int | None = None
    """`data_size`: drop smaller files (set per data language, e.g. JSON: 50)."""
    data_max_chars: int | None = None
    """`data_size`: drop larger files (set per data language, e.g. JSON: 5000)."""
    data_max_lines: int | None = None
    """`data_max_lines`: drop files with more lines (set per data language, e.g. 512)."""
    encoded_max_span: int | None = 1024
    """`encoded_data`: drop when one encoded-data match (base64, hex, \\u) is longer."""
    encoded_max_fraction: float | None = 0.5
    """`encoded_data`: drop when encoded-data matches cover a larger share of the file."""
    html_min_visible_ratio: float | None = 0.2
    """`html_visible_text`: drop HTML whose visible text is a smaller share of the file."""
    html_min_visible_chars: int | None = 100
    """`html_visible_text`: drop HTML with fewer visible characters."""
    min_comment_fraction: float | None = 0.01
    """`comments`: drop when comments are a smaller share of the characters."""
    max_comment_fraction: float | None = 0.8
    """`comments`: drop when comments are a larger share of the characters."""
    xml_header: bool = True
    """`xml_header`: drop files that open with an XML declaration (false: keep them)."""

    def __post_init__(self) -> None:
        check_overrides(
            "heuristics.thresholds", {f.name: getattr(self, f.name) for f in fields(self)}
        )


_THRESHOLD_NAMES = frozenset(f.name for f in fields(Thresholds))
_INTEGER_THRESHOLDS = frozenset(
    {"max_line_length", "max_lines", "data_min_chars", "data_max_chars", "data_max_lines",
     "encoded_max_span", "html_min_visible_chars"}
)  # fmt: skip
_SHARE_THRESHOLDS = frozenset(
    {"min_alphanumeric", "min_alphabetic", "encoded_max_fraction", "html_min_visible_ratio",
     "min_comment_fraction", "max_comment_fraction"}
)  # fmt: skip


def check_overrides(where: str, overrides: Any) -> dict[str, Any]:
    """Validate a (partial) mapping of threshold names to values; returns it as a plain dict."""
    if not isinstance(overrides, dict):
        raise ConfigError(f"{where} must be a mapping of threshold names to values")
    unknown = set(overrides) - _THRESHOLD_NAMES
    if unknown:
        raise ConfigError(
            f"unknown threshold(s) {sorted(unknown)} in {where}; known: {sorted(_THRESHOLD_NAMES)}"
        )
    for name, value in overrides.items():
        if name == "xml_header":
            if not isinstance(value, bool):
                raise ConfigError(f"{where}.{name} must be true or false, got {value!r}")
            continue
        if value is None:
            continue
        integral = name in _INTEGER_THRESHOLDS
        number_ok = isinstance(value, int) if integral else isinstance(value, int | float)
        if isinstance(value, bool) or not number_ok or value < 0:
            want = "a non-negative integer" if integral else "a non-negative number"
            raise ConfigError(f"{where}.{name} must be {want} or null, got {value!r}")
        if name in _SHARE_THRESHOLDS and value > 1:
            raise ConfigError(f"{where}.{name} is a share of the file: use 0..1, got {value!r}")
    return dict(overrides)


@dataclass(frozen=True)
class SignalConfig(ConfigBase):
    section = "heuristics.signals"

    autogen_lines: int = 5
    """Leading lines searched for an auto-generated marker."""
    autogen_markers: tuple[str, ...] = (
        "auto-generated", "autogenerated", "automatically generated",
        "generated automatically", "this file is generated", "do not edit",
    )  # fmt: skip
    """Phrases (case-insensitive) that mark a file as generated."""
    xml_head_chars: int = 100
    """Leading characters searched for `<?xml version=`."""
    minified_mean_line: float = 110
    """A file of `minified_languages` is minified when its mean line is longer (linguist)."""
    minified_languages: tuple[str, ...] = ("JavaScript", "CSS")
    """Languages the minified signal applies to."""
    all: bool = True
    """Measure every signal for every file. False measures a costly group (text statistics,
    encoded data, HTML text, comments) only when the first rule reading it runs and only for
    files no earlier rule dropped, as a per-file loop returning early would: same decisions,
    faster, but null signals where nothing needed them."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "autogen_markers", tuple(self.autogen_markers))
        object.__setattr__(self, "minified_languages", tuple(self.minified_languages))
        if self.autogen_lines < 1 or self.xml_head_chars < 1 or self.minified_mean_line <= 0:
            raise ConfigError(
                "heuristics.signals: autogen_lines, xml_head_chars and minified_mean_line "
                "must be positive"
            )
        if not all(isinstance(m, str) and m.strip() for m in self.autogen_markers):
            raise ConfigError("heuristics.signals.autogen_markers must be non-empty strings")


@dataclass(frozen=True)
class StripConfig(ConfigBase):
    section = "heuristics.strip"

    languages: tuple[str, ...] = ("HTML", "CSS")
    """Languages the `html_css` formatter rewrites."""
    max_data_uri_chars: int = 256
    """Payloads of `data:` URIs longer than this are removed (the `data:...,` prefix stays)."""
    max_base64_chars: int = 256
    """Runs of base64 characters longer than this are removed."""
    max_inline_chars: int = 2000
    """Bodies of inline `<script>`/`<style>` elements longer than this are emptied (HTML)."""
    max_line_chars: int = 1000
    """Lines still longer than this after the above (minified code) are removed."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "languages", tuple(self.languages))
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "languages" and (not isinstance(value, int) or value < 1):
                raise ConfigError(f"heuristics.strip.{f.name} must be a positive integer")


@dataclass(frozen=True)
class NotebookConfig(ConfigBase):
    section = "heuristics.notebook"

    languages: tuple[str, ...] = ("Jupyter Notebook",)
    """Languages the `notebook` formatter converts (and whose validity is checked)."""
    markdown: bool = True
    """Keep markdown cells, as comments; false keeps code cells only."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "languages", tuple(self.languages))


@dataclass(frozen=True)
class Policy:
    """What a preset and the overrides resolve to: exactly what the stage applies."""

    rules: tuple[str, ...]
    formatters: tuple[str, ...]
    by_language: dict[str, dict[str, Any]]
    by_extension: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class HeuristicsConfig(ConfigBase):
    section = "heuristics"

    preset: str = "replit"
    """codex | starcoder | starcoder2 | replit (the reference recipe); see heuristics.presets."""
    languages: tuple[str, ...] | None = field(default_factory=_reference_languages)
    """Languages kept (rule `language`, reason `language:not_selected`); null keeps all."""
    rules: tuple[str, ...] | None = None
    """Rules to apply instead of the preset's (null: the preset's)."""
    add_rules: tuple[str, ...] = ()
    """Rules applied on top of the preset's (e.g. `comments`, `minified`)."""
    skip_rules: tuple[str, ...] = ()
    """Rules of the preset not to apply."""
    formatters: tuple[str, ...] | None = None
    """Formatters to apply instead of the preset's: `notebook`, `html_css` (null: the preset's)."""
    thresholds: Thresholds = field(default_factory=Thresholds)
    """Limits for every file, unless its language or extension overrides them."""
    by_language: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Language name -> threshold overrides, on top of the preset's (e.g. Markdown: ...)."""
    by_extension: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Extension (no dot, lower case) -> threshold overrides; wins over the language's."""
    signals: SignalConfig = field(default_factory=SignalConfig)
    """How signals are measured (auto-generated markers, XML head, minified)."""
    strip: StripConfig = field(default_factory=StripConfig)
    """What the `html_css` formatter removes."""
    notebook: NotebookConfig = field(default_factory=NotebookConfig)
    """How the `notebook` formatter converts notebooks to scripts."""
    resolved: Policy = field(init=False)
    """Derived: the preset merged with the overrides; recomputed on load, never set."""

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        for name, section in (("thresholds", Thresholds), ("signals", SignalConfig),
                              ("strip", StripConfig), ("notebook", NotebookConfig)):  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, dict):
                set_(self, name, section(**value))
        if self.preset not in PRESETS:
            raise ConfigError(
                f"heuristics.preset {self.preset!r} is unknown; use one of {sorted(PRESETS)}"
            )
        if self.languages is not None:
            set_(self, "languages", tuple(sorted(set(self.languages))))
        for name in ("rules", "add_rules", "skip_rules", "formatters"):
            value = getattr(self, name)
            if value is not None:
                known = FORMATTER_ORDER if name == "formatters" else RULE_ORDER
                set_(self, name, _names(f"heuristics.{name}", value, known))
        set_(self, "by_language", _overrides("heuristics.by_language", self.by_language))
        by_extension = {str(k).lower().lstrip("."): v for k, v in self.by_extension.items()}
        set_(self, "by_extension", _overrides("heuristics.by_extension", by_extension))
        set_(self, "resolved", self._resolve())

    def _resolve(self) -> Policy:
        preset = PRESETS[self.preset]
        chosen = set(self.rules if self.rules is not None else preset.rules)
        chosen = (chosen | set(self.add_rules)) - set(self.skip_rules)
        formatters = set(self.formatters if self.formatters is not None else preset.formatters)
        return Policy(
            rules=tuple(r for r in RULE_ORDER if r in chosen),
            formatters=tuple(f for f in FORMATTER_ORDER if f in formatters),
            by_language=_merge(preset.by_language, self.by_language),
            by_extension=_merge(preset.by_extension, self.by_extension),
        )


def _names(where: str, value: Any, known: tuple[str, ...]) -> tuple[str, ...]:
    if isinstance(value, str) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of names from {list(known)}")
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown name(s) {unknown}; known: {list(known)}")
    return tuple(value)


def _overrides(where: str, mapping: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(mapping, dict):
        raise ConfigError(f"{where} must map names to threshold overrides")
    return {
        str(key): check_overrides(f"{where}.{key}", value)
        for key, value in sorted(mapping.items(), key=lambda kv: str(kv[0]))
    }


def _merge(
    preset: dict[str, dict[str, Any]], ours: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    keys = sorted(set(preset) | set(ours))
    return {k: {**preset.get(k, {}), **ours.get(k, {})} for k in keys}
