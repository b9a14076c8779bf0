"""One base for every config class: typed validation, loading, a stable fingerprint, a schema.

Config classes stay frozen stdlib dataclasses whose fields document themselves
(`dataclasses.asdict/replace/fields` keep working, and so do their `__post_init__` range
checks). Pydantic validates what users write, as YAML and JSON mean it: `'no'` for a bool or
`'0.7'` for a number is an error, not a coercion, an integer is a number, a list fills a
tuple, and an unknown key is refused. Every bad field of one config is reported in a
single `ConfigError` that names it by dotted path (`dedup.threshold`) and says what is
allowed. The instance is then built from the values as written (pydantic would turn a
YAML `120` into `120.0`, which would change fingerprints of stored configs).
"""

import dataclasses
import hashlib
import json
import types
import typing
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, Self

import yaml
from pydantic import ConfigDict, TypeAdapter, ValidationError

from corpus.core.errors import ConfigError


class ConfigBase:
    """Mixin of the frozen config dataclasses (`@dataclass(frozen=True) class X(ConfigBase)`)."""

    __pydantic_config__ = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    #: Dotted name of the section when the class is loaded on its own (`dedup`), so
    #: messages name fields as they appear in the curation config.
    section: ClassVar[str] = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Validate `data` (every bad field in one `ConfigError`) and build the config."""
        where = cls.section or "config"
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where} must be a mapping of fields, got {type(data).__name__}")
        data = cls._prepare(_without_derived(cls, dict(data)))
        try:
            payload = json.dumps(data, default=str)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where} holds a value that is not plain data: {exc}") from exc
        try:
            _adapter(cls).validate_json(payload, strict=True)
        except ValidationError as exc:
            raise ConfigError(describe(exc, cls)) from None
        return build(cls, data)

    @classmethod
    def from_file(cls, path: str | Path) -> Self:
        """Load a YAML file of this config's fields (or, for the curation config, sections)."""
        what = f"{cls.section} config" if cls.section else "config"
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read {what} {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{what} {path} must be a mapping of fields")
        return cls.from_dict(data)

    @classmethod
    def _prepare(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Hook: normalise what YAML reads oddly before validation (identity by default)."""
        return data

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        """JSON Schema of what `from_dict` accepts (derived fields left out)."""
        return _adapter(cls).json_schema()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    def fingerprint_data(self) -> dict[str, Any]:
        """What the fingerprint covers (by default every field, derived ones included)."""
        return self.to_dict()

    def fingerprint(self) -> str:
        """sha256 of the canonical JSON of every setting: equal configs, equal prints."""
        canonical = json.dumps(self.fingerprint_data(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


@cache
def _adapter(cls: type) -> TypeAdapter:
    return TypeAdapter(cls)


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _dataclass_in(annotation: Any) -> type | None:
    """The dataclass an annotation holds (`X` or `X | None`), else None."""
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        found = [a for a in typing.get_args(annotation) if dataclasses.is_dataclass(a)]
        return found[0] if len(found) == 1 else None
    return None


def _tuple_in(annotation: Any) -> bool:
    if typing.get_origin(annotation) is tuple:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(typing.get_origin(a) is tuple for a in typing.get_args(annotation))
    return False


def _without_derived(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """Drop derived (init=False) fields at every level: a stored `to_dict()` loads back."""
    hints, derived = _hints(cls), {f.name for f in dataclasses.fields(cls) if not f.init}
    out = {}
    for name, value in data.items():
        if name in derived:
            continue  # recomputed on construction, e.g. dedup's bands and rows
        inner = _dataclass_in(hints.get(name))
        out[name] = _without_derived(inner, value) if inner and isinstance(value, dict) else value
    return out


def build(cls: type, data: dict[str, Any]) -> Any:
    """Construct `cls` from validated data: nested sections as their dataclasses, lists as
    tuples where the field is a tuple; every other value exactly as written."""
    hints = _hints(cls)
    kwargs = {}
    for name, value in data.items():
        annotation = hints.get(name)
        inner = _dataclass_in(annotation)
        if inner is not None and isinstance(value, dict):
            value = build(inner, value)
        elif _tuple_in(annotation) and isinstance(value, list):
            value = tuple(value)
        kwargs[name] = value
    return cls(**kwargs)


# --- messages ---------------------------------------------------------------------------

_WANTS = {
    "bool_type": "true or false",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "string_type": "a string",
    "list_type": "a list",
    "tuple_type": "a list",
    "dict_type": "a mapping",
    "dataclass_type": "a mapping",
    "dataclass_exact_type": "a mapping",
    "none_required": "null",
    "path_type": "a path",
}
_UNKNOWN = ("unexpected_keyword_argument", "extra_forbidden")
_MISSING = ("missing", "missing_argument")


def _path(loc: tuple[Any, ...], cls: type) -> list[str | int]:
    """The field path of an error location, without pydantic's union and function tags."""
    parts: list[str | int] = []
    current: Any = cls
    for part in loc:
        fields = _fields_of(current)
        if isinstance(part, int):
            parts.append(part)
        elif fields is not None:  # a field of a section (or an unknown key of it)
            parts.append(part)
            current = fields.get(part, Any)
        elif (value := _mapping_value(current)) is not None:  # a key of a mapping field
            parts.append(part)
            current = value
        # else: a tag such as `str`, `tuple[str, ...]` or `function-after[...]`: skip it
    return parts


def _mapping_value(annotation: Any) -> Any:
    """The value type of a mapping annotation (`dict[str, X]`, `Mapping[...] | None`)."""
    options = typing.get_args(annotation) if typing.get_origin(annotation) in (
        typing.Union, types.UnionType) else (annotation,)  # fmt: skip
    for option in options:
        if option is dict or typing.get_origin(option) in (dict, Mapping):
            args = typing.get_args(option)
            return args[1] if len(args) == 2 else Any
    return None


def _fields_of(annotation: Any) -> dict[str, Any] | None:
    inner = _dataclass_in(annotation)
    if inner is None:
        return None
    hints = _hints(inner)
    return {f.name: hints.get(f.name) for f in dataclasses.fields(inner) if f.init}


def _at(cls: type, path: list[str | int]) -> Any:
    current: Any = cls
    for part in path:
        fields = _fields_of(current)
        if fields is None or part not in fields:
            return None
        current = fields[part]
    return current


def _literal_choices(annotation: Any) -> list[Any]:
    """The values of a `Literal[...]` annotation (or `Literal[...] | None`), else []."""
    if typing.get_origin(annotation) is typing.Literal:
        return list(typing.get_args(annotation))
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [c for a in typing.get_args(annotation) for c in _literal_choices(a)]
    return []


def _dotted(prefix: str, path: list[str | int]) -> str:
    parts = [prefix] if prefix else []
    parts += [f"[{p}]" if isinstance(p, int) else p for p in path]
    return ".".join(parts).replace(".[", "[") or "config"


def _one(error: dict[str, Any], cls: type) -> tuple[str, str]:
    """(dotted field, what is wrong and what is allowed) of one pydantic error."""
    path = _path(tuple(error["loc"]), cls)
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "value_error" and isinstance(ctx.get("error"), ConfigError):
        return "", str(ctx["error"])  # a __post_init__ check: its message names the field
    got = f", got {error['input']!r}" if "input" in error else ""
    if kind == "literal_error":
        choices = _literal_choices(_at(cls, path))
        allowed = f"one of {choices}" if choices else ctx.get("expected")
        return _dotted(cls.section, path), f"must be {allowed}{got}"
    want = _WANTS.get(kind)
    message = f"must be {want}{got}" if want else f"is invalid: {error['msg']}{got}"
    return _dotted(cls.section, path), message


def describe(exc: ValidationError, cls: type) -> str:
    """One line naming every bad field, what it holds and what is allowed."""
    by_field: dict[str, list[str]] = {}
    unknown: dict[tuple[str | int, ...], list[str]] = {}
    missing: dict[tuple[str | int, ...], list[str]] = {}
    for error in exc.errors():
        if error["type"] in _UNKNOWN or error["type"] in _MISSING:
            path = _path(tuple(error["loc"]), cls)
            kind = missing if error["type"] in _MISSING else unknown
            kind.setdefault(tuple(path[:-1]), []).append(str(path[-1]))
            continue
        field, message = _one(error, cls)
        messages = by_field.setdefault(field, [])
        if message not in messages:
            messages.append(message)
    parts = []
    for field, messages in by_field.items():
        if not field:
            parts.extend(messages)
        elif len(messages) > 1 and all(m.startswith("must be ") for m in messages):
            wants = [m.removeprefix("must be ").split(", got ")[0] for m in messages]
            got = messages[0].partition(", got ")[2]
            parts.append(f"{field} must be {' or '.join(wants)}" + (f", got {got}" if got else ""))
        else:
            parts.extend(f"{field} {m}" for m in messages)
    for parent, keys in unknown.items():
        known = sorted(_fields_of(_at(cls, list(parent))) or ())
        if not parent and not cls.section:
            parts.append(f"unknown config section(s) {sorted(keys)}; known: {known}")
        else:
            where = _dotted(cls.section, list(parent))
            parts.append(f"unknown field(s) {sorted(keys)} in {where!r}; known: {known}")
    for parent, keys in missing.items():
        where = _dotted(cls.section, list(parent))
        parts.append(f"{where} needs field(s) {sorted(keys)}")
    what = f"{cls.section} config" if cls.section else "config"
    count = f"{len(parts)} problems" if len(parts) > 1 else "1 problem"
    return f"invalid {what} ({count}): " + "; ".join(parts)
