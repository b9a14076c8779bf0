"""SentencePiece training on a corpus, token counting and Megatron-compatible token shards.

Pure functions and small classes over Arrow tables and iterators; none starts Ray, so a
runner can map them over batches in tasks or actors:

- `tokenizer.config.TokenizerConfig`: settings for code, with `fingerprint()`.
- `tokenizer.sample.sample_documents(batches, config)`: a deterministic, hash-selected
  training sample, per language proportional to bytes with a cap.
- `tokenizer.train.train_tokenizer(pairs, config) -> TrainedTokenizer` (model bytes,
  sha256, config, stats): streamed into SentencePiece, no temporary files.
- `tokenizer.model.CodeTokenizer(model_bytes)`: exact encode/decode.
- `tokenizer.count.TokenCounter(model_bytes)`: token counts per file, stats and fertility
  per language.
- `tokenizer.shards`: Megatron `IndexedDataset` writer and numpy reader, `split_of`;
  `tokenizer.write.write_shards`: shards per language and split from Arrow batches.
- The tokenizer phase of a version: `tokenizer.phase` (distributed sampling, training
  from candidates), `tokenizer.partition` (a partition's token counts and shards),
  `tokenizer.manifest` (shard manifest rows, token statistics), `tokenizer.version`
  (count or shard a published version's files); `tokenizer.store` keeps trained models.

Must not import torch: shards are read with numpy memory maps.
"""
