"""SentencePiece training on a corpus, token counting and Megatron-compatible token shards.

Must not import torch: shards are read with numpy memory maps.
"""
