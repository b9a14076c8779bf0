"""The store: the Iceberg catalog and what is kept in it, namely versions and their registry,
runs, mixtures, publish locks, garbage collection, diff, export and the opt-out registry."""
