"""codecorpus: facts about source files (schema, sources, intake, language), the catalog and the runner."""

__version__ = "0.1.0"
