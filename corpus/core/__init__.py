"""The floor every package stands on: errors, drop reasons, the record schema, storage,
settings, the stage contract, row keys, tallies, writers, file exchange, Ray sessions, logs,
SPDX expression evaluation and the shared language names; it imports no other package of ours."""

__version__ = "0.1.0"
