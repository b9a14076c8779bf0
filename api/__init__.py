"""The FastAPI service over versions, statistics, files, shards, mixtures and runs.

Requests read catalog metadata only; heavy work is submitted to Ray as a run.
"""
