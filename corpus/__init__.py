"""codecorpus: facts about files (schema, sources, intake, language), catalog and runner."""

__version__ = "0.1.0"
