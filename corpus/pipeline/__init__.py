"""The pipeline: ingest (sources -> `<ds>.raw`) and curate (row-local stages, dedup,
tokenizer, publish) as declared, resumable phases on Ray, and the training job a mixture
becomes; it imports `corpus.core`, the facts packages, the store and the leaves."""
