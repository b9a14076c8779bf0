"""Bad curation configs and what their error must name: shared by the Python, CLI and API tests.

Each entry: (what is wrong, config, fragments the one error message must contain: the field
by dotted path, and what is allowed).
"""

BAD_CONFIGS: list[tuple[str, dict, tuple[str, ...]]] = [
    ("bool as text", {"dedup": {"exact": "no"}}, ("dedup.exact", "true or false", "'no'")),
    ("number as text", {"dedup": {"threshold": "0.7"}}, ("dedup.threshold", "a number")),
    ("out of range", {"dedup": {"threshold": 1.5}}, ("dedup.threshold", "in (0, 1)")),
    ("float for an int", {"dedup": {"num_perm": 64.5}}, ("dedup.num_perm", "an integer")),
    ("unknown key", {"dedup": {"thresold": 0.7}}, ("['thresold'] in 'dedup'", "'threshold'")),
    ("unknown section", {"dedupe": {}}, ("config section(s) ['dedupe']", "'dedup'", "'shards'")),
    (
        "wrong enum",
        {"tokenizer": {"model_type": "wordpiece"}},
        ("tokenizer.model_type", "'bpe', 'unigram'", "'wordpiece'"),
    ),
    ("unknown preset", {"heuristics": {"preset": "gpt4"}}, ("heuristics.preset", "starcoder2")),
    (
        "nested share out of range",
        {"heuristics": {"thresholds": {"min_alphabetic": 2}}},
        ("heuristics.thresholds.min_alphabetic", "0..1"),
    ),
    (
        "per-language override of the wrong type",
        {"heuristics": {"by_language": {"Markdown": {"max_lines": "many"}}}},
        ("heuristics.by_language.Markdown.max_lines", "non-negative integer or null"),
    ),
    ("not positive", {"intake": {"max_file_bytes": 0}}, ("intake.max_file_bytes", "positive")),
    ("a name, not a list", {"licenses": {"allow": "MIT"}}, ("licenses.allow", "a list")),
    ("section not a mapping", {"dedup": "yes"}, ("dedup must be a mapping",)),
    (
        "two bad fields at once",
        {"dedup": {"exact": "no"}, "tokenizer": {"vocab_size": "big"}},
        ("2 problems", "dedup.exact", "tokenizer.vocab_size must be an integer"),
    ),
]
