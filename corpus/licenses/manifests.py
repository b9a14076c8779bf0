"""Declared licenses in package manifests -> SPDX expressions.

Covers PKG-INFO/METADATA, pyproject.toml, setup.cfg, package.json,
composer.json, Cargo.toml, *.gemspec, R DESCRIPTION, *.nuspec and pom.xml.
Parse errors yield None (no evidence), never an exception.
"""

import configparser
import json
import re
import tomllib
from email.parser import HeaderParser

from corpus.licenses.names import UNKNOWN, expression_from_declaration

#: Trove classifier suffix -> SPDX id, for the classifiers PyPI defines.
CLASSIFIERS: dict[str, str] = {
    "Apache Software License": "Apache-2.0", "MIT License": "MIT",
    "MIT No Attribution License (MIT-0)": "MIT-0", "BSD License": "BSD-3-Clause",
    "ISC License (ISCL)": "ISC", "Python Software Foundation License": "PSF-2.0",
    "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0", "zlib/libpng License": "Zlib",
    "The Unlicense (Unlicense)": "Unlicense", "Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
    "GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "GNU General Public License v2 or later (GPLv2+)": "GPL-2.0-or-later",
    "GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "GNU General Public License v3 or later (GPLv3+)": "GPL-3.0-or-later",
    "GNU Lesser General Public License v2 (LGPLv2)": "LGPL-2.0-only",
    "GNU Lesser General Public License v2 or later (LGPLv2+)": "LGPL-2.0-or-later",
    "GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "GNU Lesser General Public License v3 or later (LGPLv3+)": "LGPL-3.0-or-later",
    "GNU Library or Lesser General Public License (LGPL)": "LGPL-2.1-only",
    "GNU Affero General Public License v3": "AGPL-3.0-only",
    "Eclipse Public License 2.0 (EPL-2.0)": "EPL-2.0",
    "Academic Free License (AFL)": "AFL-3.0", "Artistic License": "Artistic-2.0",
    "CEA CNRS Inria Logiciel Libre License, version 2.1 (CeCILL-2.1)": "CECILL-2.1",
    "European Union Public Licence 1.2 (EUPL 1.2)": "EUPL-1.2",
    "Universal Permissive License (UPL)": "UPL-1.0",
    "Historical Permission Notice and Disclaimer (HPND)": "HPND",
}  # fmt: skip

MANIFEST_NAMES = frozenset(
    {"PKG-INFO", "METADATA", "pyproject.toml", "setup.cfg", "package.json", "composer.json",
     "Cargo.toml", "DESCRIPTION", "pom.xml"}
)  # fmt: skip
MANIFEST_SUFFIXES = (".gemspec", ".nuspec")


def is_manifest(filename: str) -> bool:
    return filename in MANIFEST_NAMES or filename.endswith(MANIFEST_SUFFIXES)


def declared_license(filename: str, text: str) -> str | None:
    """The SPDX expression a manifest declares, or None when it declares none."""
    try:
        values = _PARSERS[_kind(filename)](text)
    except (ValueError, KeyError, TypeError, AttributeError, configparser.Error):
        return None
    expressions = [e for v in values if v and (e := expression_from_declaration(v))]
    if not expressions:
        return None
    known = [e for e in expressions if e != UNKNOWN]
    return known[0] if known else UNKNOWN


def _kind(filename: str) -> str:
    for suffix in MANIFEST_SUFFIXES:
        if filename.endswith(suffix):
            return suffix
    return filename


def _core_metadata(text: str) -> list[str]:
    headers = HeaderParser().parsestr(text)
    values = [headers.get("License-Expression") or ""]
    prefix = "License :: OSI Approved :: "
    classifiers = [c for c in headers.get_all("Classifier") or [] if c.startswith("License ::")]
    mapped = [CLASSIFIERS.get(c.removeprefix(prefix), "") for c in classifiers]
    values.append(" OR ".join(m for m in mapped if m))
    license_field = (headers.get("License") or "").strip()
    if license_field and len(license_field) < 200:  # long values hold a whole text: not a name
        values.append(license_field)
    return values


def _pyproject(text: str) -> list[str]:
    project = tomllib.loads(text).get("project", {})
    license_value = project.get("license")
    values = []
    if isinstance(license_value, str):
        values.append(license_value)
    elif isinstance(license_value, dict) and isinstance(license_value.get("text"), str):
        values.append(license_value["text"][:200])
    classifiers = [c for c in project.get("classifiers", []) if c.startswith("License ::")]
    values.extend(CLASSIFIERS.get(c.rsplit(" :: ", 1)[-1], "") for c in classifiers)
    return values


def _setup_cfg(text: str) -> list[str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    if not parser.has_section("metadata"):
        return []
    values = [parser.get("metadata", "license", fallback="")]
    for line in parser.get("metadata", "classifiers", fallback="").splitlines():
        if line.strip().startswith("License ::"):
            values.append(CLASSIFIERS.get(line.strip().rsplit(" :: ", 1)[-1], ""))
    return values


def _package_json(text: str) -> list[str]:
    data = json.loads(text)
    value = data.get("license")
    if isinstance(value, dict):
        value = value.get("type")
    values = [value] if isinstance(value, str) else []
    listed = data.get("licenses")
    if isinstance(listed, list):
        types = [v.get("type") if isinstance(v, dict) else v for v in listed]
        values.append(" OR ".join(t for t in types if isinstance(t, str)))
    return values


def _composer_json(text: str) -> list[str]:
    value = json.loads(text).get("license")
    if isinstance(value, list):  # composer: a list means the user may choose
        return [" OR ".join(v for v in value if isinstance(v, str))]
    return [value] if isinstance(value, str) else []


def _cargo(text: str) -> list[str]:
    value = tomllib.loads(text).get("package", {}).get("license")
    return [value] if isinstance(value, str) else []


_GEM = re.compile(r"\.licen[cs]es?\s*=\s*(\[[^\]]*\]|['\"][^'\"]*['\"])")


def _gemspec(text: str) -> list[str]:
    match = _GEM.search(text)
    if not match:
        return []
    names = re.findall(r"['\"]([^'\"]+)['\"]", match.group(1))
    return [" OR ".join(names)] if names else []


def _description(text: str) -> list[str]:
    headers = HeaderParser().parsestr(text)
    value = headers.get("License") or ""
    value = re.sub(r"\s*\+\s*file\s+LICEN[CS]E", "", value)  # "MIT + file LICENSE"
    value = re.sub(r"GPL\s*\(>=\s*(\d)\)", r"GPL-\1.0-or-later", value)
    value = re.sub(r"\bGPL-(\d)\b", r"GPL-\1.0-only", value)
    return [" OR ".join(v.strip() for v in value.split("|") if v.strip())]


def _nuspec(text: str) -> list[str]:
    match = re.search(r"<license[^>]*type=\"expression\"[^>]*>([^<]+)</license>", text)
    return [match.group(1)] if match else []


def _pom(text: str) -> list[str]:
    block = re.search(r"<licenses>(.*?)</licenses>", text, re.S)
    if not block:
        return []
    names = re.findall(r"<name>\s*([^<]+?)\s*</name>", block.group(1))
    return [" OR ".join(names)] if names else []


_PARSERS = {
    "PKG-INFO": _core_metadata, "METADATA": _core_metadata, "pyproject.toml": _pyproject,
    "setup.cfg": _setup_cfg, "package.json": _package_json, "composer.json": _composer_json,
    "Cargo.toml": _cargo, ".gemspec": _gemspec, "DESCRIPTION": _description,
    ".nuspec": _nuspec, "pom.xml": _pom,
}  # fmt: skip
