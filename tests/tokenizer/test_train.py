"""Training: exact round trips on real code of the 20 reference languages, the same model
for the same config and sample, newlines and indentation as pieces, clear errors."""

import json
import random

import pyarrow as pa
import pytest

from tests.tokenizer.conftest import REFERENCE_LANGUAGES, SMALL_CONFIG
from tokenizer.config import TokenizerConfig
from tokenizer.errors import EmptySampleError, InvalidTextError, TrainingError
from tokenizer.sample import language_bytes, sample_documents
from tokenizer.train import TrainedTokenizer, train_tokenizer

#: What editors and generators leave in real files, beyond what the samples hold.
TRICKY = {
    "tabs": "def f():\n\tif x:\n\t\treturn 1\n\t\t\t# deep\n",
    "trailing spaces": "x = 1   \ny = 2\t \n   \n",
    "crlf": "#include <stdio.h>\r\nint main(void) {\r\n    return 0;\r\n}\r\n",
    "lone cr": "old mac\rline\r",
    "non-ascii": "# Grüße, 你好, Здравствуй, こんにちは 🚀\nname = 'Ünïcödé'  # ≠ ≤ λ\n",
    "literal meta space": "sparkline = '▁▂▃▄▅▆▇█'\n▁leading and trailing▁",
    "leading spaces": "   indented first line\n",
    "no final newline": "SELECT 1",
    "blank lines": "\n\n\n",
    "nul and controls": "a\x00b\x1bc\x7f",
    "long line": "x" * 5000 + " " * 33 + "y\n",
}


def test_every_reference_language_is_present(real_files: pa.Table) -> None:
    present = set(real_files["lang"].to_pylist())
    assert set(REFERENCE_LANGUAGES) <= present, set(REFERENCE_LANGUAGES) - present


def test_round_trip_real_code_in_every_reference_language(
    real_files: pa.Table, trained: TrainedTokenizer
) -> None:
    tokenizer = trained.load()
    failures = []
    for row in real_files.to_pylist():
        ids = tokenizer.encode(row["content"])
        if tokenizer.decode(ids) != row["content"]:
            failures.append((row["lang"], row["path"]))
    assert not failures
    # the real files hold tabs, trailing spaces and non-ASCII text
    contents = real_files["content"].to_pylist()
    assert any("\t" in c for c in contents)
    assert any(" \n" in c for c in contents)
    assert any(not c.isascii() for c in contents)


def test_round_trip_crlf_checkouts_of_every_reference_language(
    real_files: pa.Table, trained: TrainedTokenizer
) -> None:
    """No file here has CRLF line endings: use each file as a CRLF checkout gives it."""
    tokenizer = trained.load()
    for row in real_files.to_pylist():
        if row["lang"] in REFERENCE_LANGUAGES:
            text = row["content"].replace("\r\n", "\n").replace("\n", "\r\n")
            assert tokenizer.decode(tokenizer.encode(text)) == text, row["path"]


@pytest.mark.parametrize("case", sorted(TRICKY))
def test_round_trip_tricky_text(trained: TrainedTokenizer, case: str) -> None:
    tokenizer = trained.load()
    text = TRICKY[case]
    assert tokenizer.decode(tokenizer.encode(text)) == text
    assert tokenizer.decode(tokenizer.encode_batch([text, ""])[0]) == text


def test_newlines_are_characters_of_the_vocabulary(trained: TrainedTokenizer) -> None:
    """Through `sentence_iterator` a newline is an ordinary character: in the vocabulary
    (not a byte-fallback piece) and merged with what ends a line."""
    tokenizer = trained.load()
    processor = tokenizer.processor
    (newline,) = tokenizer.encode("\n")
    assert processor.id_to_piece(newline) == "\n" and not processor.is_byte(newline)
    pieces = [processor.id_to_piece(i) for i in range(processor.get_piece_size())]
    assert any(p.endswith("\n") and len(p) > 1 for p in pieces)
    assert any(p.startswith("\n\t") for p in pieces)  # newline and tab indentation


def test_indentation_runs_are_single_pieces(trained: TrainedTokenizer) -> None:
    tokenizer = trained.load()
    piece = tokenizer.processor.id_to_piece
    pieces = [piece(i) for i in tokenizer.encode("if x:\n        y = 1\n            z\n")]
    assert "▁" * 8 in pieces and "▁" * 12 in pieces
    for symbol in SMALL_CONFIG.user_defined_symbols:
        assert tokenizer.processor.piece_to_id(symbol) > 2  # in the vocabulary, not <unk>
    tabs = TokenizerConfig(vocab_size=290, indent_tabs=(1, 2), newline_symbols=("\n",))
    code = "func f() {\n\tif x {\n\t\treturn\n\t}\n}\n" * 30
    with_tabs = train_tokenizer([("Go", code)], tabs).load()
    tab_pieces = [with_tabs.processor.id_to_piece(i) for i in with_tabs.encode(code)]
    assert {"\t", "\t\t", "\n"} <= set(tab_pieces)
    assert not any(("\n" in p or "\t" in p) and p not in ("\n", "\t", "\t\t") for p in tab_pieces)


def test_model_settings_suit_code(real_files: pa.Table, trained: TrainedTokenizer) -> None:
    tokenizer = trained.load()
    assert tokenizer.vocab_size == SMALL_CONFIG.vocab_size
    assert tokenizer.eod_id == 2 and tokenizer.processor.id_to_piece(2) == "</s>"
    digits = [tokenizer.processor.id_to_piece(i) for i in tokenizer.encode("x = 123456")]
    assert digits[-6:] == list("123456")  # split_digits
    assert trained.stats.documents == real_files.num_rows
    assert sum(trained.stats.documents_by_language.values()) == real_files.num_rows
    assert sum(trained.stats.bytes_by_language.values()) == trained.stats.bytes
    record = json.loads(json.dumps(trained.describe()))
    assert record["sha256"] == trained.sha256
    assert record["config"]["vocab_size"] == SMALL_CONFIG.vocab_size
    assert record["stats"]["documents"] == real_files.num_rows


def test_same_config_and_sample_give_the_same_model(
    real_files: pa.Table, trained: TrainedTokenizer
) -> None:
    pairs = list(
        zip(real_files["lang"].to_pylist(), real_files["content"].to_pylist(), strict=True)
    )
    again = train_tokenizer(pairs, SMALL_CONFIG)
    assert again.sha256 == trained.sha256
    assert again.model_bytes == trained.model_bytes
    # BPE learns the same pieces on any number of threads: the model does not record it
    one_thread = train_tokenizer(pairs, TokenizerConfig(vocab_size=3000, num_threads=1))
    assert one_thread.sha256 == trained.sha256
    assert SMALL_CONFIG.fingerprint() == TokenizerConfig(vocab_size=3000).fingerprint()


def test_long_documents_are_split_not_dropped() -> None:
    line = "value = compute(alpha, beta)  # note\n"
    text = line * 200  # 7400 bytes
    config = TokenizerConfig(vocab_size=330, max_sentence_length=1000, num_threads=1)
    model = train_tokenizer([("Python", text)], config)
    assert model.stats.split_documents == 1
    assert model.stats.sentences == 8
    tokenizer = model.load()
    assert tokenizer.decode(tokenizer.encode(text)) == text
    # learned from the long text: its words are pieces, not bytes
    assert len(tokenizer.encode(line)) < len(line) / 2


def test_bad_input_gives_clear_errors() -> None:
    config = TokenizerConfig(vocab_size=300, num_threads=1)
    with pytest.raises(EmptySampleError, match="no text to train on"):
        train_tokenizer([], config)
    with pytest.raises(EmptySampleError):
        train_tokenizer([("Python", ""), ("C", "")], config)
    with pytest.raises(InvalidTextError, match=r"training text 1 \(C\) is NoneType"):
        train_tokenizer([("Python", "x = 1\n" * 50), ("C", None)], config)  # type: ignore[list-item]
    with pytest.raises(InvalidTextError, match=r"must be a \(lang, text\) pair"):
        train_tokenizer(["just a string"], config)  # type: ignore[list-item]
    with pytest.raises(TrainingError, match="Lower vocab_size"):
        train_tokenizer([("Python", "x = 1\n")], TokenizerConfig(vocab_size=5000))


def test_same_corpus_in_any_order_gives_the_same_model(real_files: pa.Table) -> None:
    """Sampling selects by hash of file ids and orders the sample itself: the model does
    not depend on how the corpus was scanned."""
    config = TokenizerConfig(vocab_size=1000, sample_bytes=1_500_000, num_threads=2)
    first = train_tokenizer(sample_documents(real_files, config), config)
    order = list(range(real_files.num_rows))
    random.Random(7).shuffle(order)
    shuffled = real_files.take(order)
    batches = iter(shuffled.to_batches(max_chunksize=64))
    again = train_tokenizer(sample_documents(batches, config, language_bytes(shuffled)), config)
    assert again.sha256 == first.sha256
    assert 500_000 < first.stats.bytes <= 1_500_000


def test_unigram_keeps_its_thread_count() -> None:
    text = (
        "def area(radius):\n    return 3.14159 * radius ** 2\n"
        "class Circle:\n    def __init__(self, radius):\n        self.radius = radius\n"
        "for item in items:\n    print(item.name, item.total, sep=', ')\n"
    ) * 40
    config = TokenizerConfig(model_type="unigram", vocab_size=300, num_threads=1)
    model = train_tokenizer([("Python", text)], config)
    tokenizer = model.load()
    assert tokenizer.decode(tokenizer.encode(text)) == text
    from sentencepiece import sentencepiece_model_pb2

    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model.model_bytes)
    assert proto.trainer_spec.model_type == proto.trainer_spec.UNIGRAM
    assert proto.trainer_spec.HasField("num_threads")  # it changes unigram's pieces
