"""Exact and MinHash near-duplicate detection, LSH, distributed union-find and the keep rule.

Judgments only: this package decides which files are duplicates; it never reads
the catalog or speaks HTTP.
"""
