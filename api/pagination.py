"""Opaque keyset cursors: the last file_id of a page plus a hash of the filters it served.

A cursor is only valid with the filters (and version) it was issued for; anything
else is answered 400, so a client cannot silently mix two listings.
"""

import base64
import binascii
import hashlib
import json
import re
from typing import Any

from api.problems import bad_request

FILE_ID = re.compile(r"^[0-9a-f]{32}$")


def filter_hash(scope: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(scope, sort_keys=True).encode()).hexdigest()[:16]


def encode_cursor(after: str, filters: str) -> str:
    raw = json.dumps({"after": after, "filters": filters}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, filters: str) -> str:
    """The file_id after which the next page starts."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        after, issued_for = data["after"], data["filters"]
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeEncodeError) as exc:
        raise bad_request(
            "invalid-cursor",
            "the cursor is malformed: pass the next_cursor of a previous page unchanged, "
            "or leave cursor out to start at the first page",
        ) from exc
    if not isinstance(after, str) or not FILE_ID.match(after) or not isinstance(issued_for, str):
        raise bad_request("invalid-cursor", "the cursor is malformed: pass a next_cursor unchanged")
    if issued_for != filters:
        raise bad_request(
            "cursor-mismatch",
            "the cursor was issued for other filters or another version: repeat the filters "
            "of the request that returned it, or leave cursor out to start over",
        )
    return after
