"""Specific exceptions; each message says what to do next."""


class CodecorpusError(Exception):
    """Base class: the CLI prints these as one clear line instead of a traceback."""


class ConfigError(CodecorpusError, ValueError):
    """A configuration value is invalid; the message names the offending field."""


class SourceError(CodecorpusError):
    """A source cannot be read at all (missing, unsupported or malformed)."""


class DatasetNotFound(CodecorpusError, LookupError):
    """The dataset has no tables in the catalog yet."""


class VersionNotFound(CodecorpusError, LookupError):
    """The named version is not registered for the dataset."""


class VersionExists(CodecorpusError):
    """A version name is taken: versions are immutable."""


class VersionInProgress(VersionExists):
    """Another run is publishing this version name right now."""


class CommitConflict(CodecorpusError):
    """Concurrent writers kept committing first; the change could not be applied."""
