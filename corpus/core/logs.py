"""Logging: human-readable lines by default, JSON lines for log collectors.

`CODECORPUS_LOG_FORMAT=json` makes every process (the CLI, the API, Ray workers)
write one JSON object per line to stderr with `ts, level, logger, msg` and the
run's context `run_id, dataset, version, phase`. The driver binds the context
with `bind()`; Ray workers inherit it through the job's runtime environment
(`ray_runtime_env`), whose setup hook configures logging in each worker.
"""

import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

#: The context fields every record carries (None when unbound).
FIELDS = ("run_id", "dataset", "version", "phase")
#: Environment variables that carry the bound context into Ray worker processes.
ENV = {name: f"CODECORPUS_LOG_{name.upper()}" for name in FIELDS}
_context: ContextVar[tuple[tuple[str, str | None], ...]] = ContextVar(
    "codecorpus_log_context", default=()
)


class LogSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CODECORPUS_LOG_")

    format: Literal["text", "json"] = "text"
    """`text` for people, `json` (one object per line) for log collectors."""
    level: str | None = None
    """Level of codecorpus' own loggers (corpus, dedup, tokenizer, heuristics, api, trainer);
    default INFO for json, WARNING for text (the CLI shows progress itself)."""

    def resolved_level(self) -> str:
        return (self.level or ("INFO" if self.format == "json" else "WARNING")).upper()


@contextmanager
def bind(**fields: str | None) -> Iterator[None]:
    """Attach context fields (run_id, dataset, version, phase) to every record in the block."""
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise TypeError(f"unknown log context field(s) {sorted(unknown)}; known: {FIELDS}")
    token = _context.set(tuple({**dict(_context.get()), **fields}.items()))
    try:
        yield
    finally:
        _context.reset(token)


def set_phase(phase: str) -> None:
    """Name the phase the bound run is in (stays until the enclosing `bind` block ends)."""
    _context.set(tuple({**dict(_context.get()), "phase": phase}.items()))


def context() -> dict[str, str | None]:
    """The fields a record gets now: bound ones, else those a worker inherited by env."""
    bound = dict(_context.get())
    return {name: bound.get(name, os.environ.get(ENV[name])) for name in FIELDS}


class ContextFilter(logging.Filter):
    """Copies the context onto each record, keeping fields a call passed in `extra`."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in context().items():
            if getattr(record, name, None) is None:
                setattr(record, name, value)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            **{name: getattr(record, name, None) for name in FIELDS},
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        run = getattr(record, "run_id", None)
        return f"{line} [run {run[:12]}]" if run else line


#: Loggers of the project's packages; their level follows LogSettings.level.
PACKAGES = ("corpus", "dedup", "tokenizer", "heuristics", "api", "trainer")
_HANDLER_NAME = "codecorpus"


def configure(settings: LogSettings | None = None) -> None:
    """Install one stderr handler on the root logger (idempotent: replaces our own)."""
    settings = settings or LogSettings()
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(ContextFilter())
    handler.setFormatter(
        JsonFormatter()
        if settings.format == "json"
        else TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    if root.level > logging.WARNING or root.level == logging.NOTSET:
        root.setLevel(logging.WARNING)  # other libraries: warnings and errors only
    for package in PACKAGES:
        logging.getLogger(package).setLevel(settings.resolved_level())


def configure_worker() -> None:
    """Ray worker setup hook (see `ray_runtime_env`): the same format as the driver."""
    configure()


def ray_runtime_env() -> dict[str, Any]:
    """Runtime environment for Ray jobs and actors: workers log in the driver's format and
    carry its bound context (the run id above all)."""
    settings = LogSettings()
    env = {
        "CODECORPUS_LOG_FORMAT": settings.format,
        "CODECORPUS_LOG_LEVEL": settings.resolved_level(),
    }
    env.update({ENV[name]: value for name, value in context().items() if value is not None})
    env.pop(ENV["phase"], None)  # phases change during a run; workers name theirs per record
    return {"env_vars": env, "worker_process_setup_hook": "corpus.core.logs.configure_worker"}
