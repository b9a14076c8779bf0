"""PII and secrets: planted values in real files are found at the rates the README states,
real lookalikes are kept, and redaction changes nothing but the spans it replaces."""

import pytest

from heuristics.pii import PiiKind, count_kinds, find_pii, redact
from tests.heuristics.pii_samples import LOOKALIKES, planted_set, score


@pytest.fixture(scope="module")
def samples():
    return planted_set(files=40, per_kind=2, seed=3)


def test_planted_values_are_found_and_lookalikes_kept(samples) -> None:
    scores = score(samples)
    for kind in PiiKind:
        assert scores[kind]["planted"] >= 80, kind
        assert scores[kind]["precision"] >= 0.99, (kind, scores[kind])
    assert scores[PiiKind.EMAIL]["recall"] == 1.0
    assert scores[PiiKind.IP_ADDRESS]["recall"] == 1.0
    assert scores[PiiKind.PASSWORD]["recall"] >= 0.99
    assert scores[PiiKind.KEY]["recall"] >= 0.98, scores[PiiKind.KEY]


@pytest.mark.parametrize("line", LOOKALIKES)
def test_each_lookalike_is_kept(line: str) -> None:
    assert find_pii(line) == [], [line[s.start : s.end] for s in find_pii(line)]


def test_redaction_keeps_every_byte_outside_the_spans(samples) -> None:
    for sample in samples:
        spans = find_pii(sample.text, sample.path)
        out = redact(sample.text, spans)
        cursor, position = 0, 0
        for span in spans:  # each gap between spans is copied as it was
            gap = sample.text[cursor : span.start]
            assert out[position : position + len(gap)] == gap
            position += len(gap)
            assert out[position : position + len(span.kind.placeholder)] == span.kind.placeholder
            position += len(span.kind.placeholder)
            cursor = span.end
        assert out[position:] == sample.text[cursor:]
        assert sum(count_kinds(spans).values()) == len(spans)
        assert out.encode("utf-8").count(b"<") >= len(spans)


def test_private_key_bodies_are_redacted_and_their_markers_kept() -> None:
    body = "MIIEpAIBAAKCAQEA7b9dFGHJKLMNOPQRSTUVWXYZabcdefghijklmnopq\nabcdefghijkl0123456789+/=="
    text = f"KEY = '''-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----'''\n"
    out = redact(text, find_pii(text))
    assert (
        out == "KEY = '''-----BEGIN RSA PRIVATE KEY-----\n<KEY>\n-----END RSA PRIVATE KEY-----'''\n"
    )
    begin, end = "-----BEGIN OPENSSH PRIVATE KEY-----", "-----END OPENSSH PRIVATE KEY-----"
    markers = f'_START = b"{begin}"\n_END = b"{end}"'
    assert find_pii(markers) == []  # two constants naming the markers hold no key


def test_lock_files_keep_their_hashes_but_not_their_emails() -> None:
    lock = (
        '"node_modules/left-pad": {\n'
        '  "integrity": "sha512-Ab3dEf9GhIjK0LmNoPqRsTuVwXyZ1234567890abcdEFGHijklMNOPqrst==",\n'
        '  "token": "ghp_R2d2C3poBB8xwing7Yoda0LukeHan1Leia9Z",\n'
        '  "author": "jane.doe@acme-corp.com"\n}\n'
    )
    kinds = [s.kind for s in find_pii(lock, "web/package-lock.json")]
    assert kinds == [PiiKind.EMAIL]
    assert PiiKind.KEY in [s.kind for s in find_pii(lock, "web/config.json")]


def test_kinds_can_be_chosen() -> None:
    text = "MAINTAINER = 'jane.doe@acme-corp.com'\nSERVER = '93.184.216.34'\n"
    assert [s.kind for s in find_pii(text, kinds=frozenset({PiiKind.IP_ADDRESS}))] == [
        PiiKind.IP_ADDRESS
    ]
