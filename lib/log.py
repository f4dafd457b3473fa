"""Logging: one line per event with a KST timestamp, the job name, the level and the message."""

from __future__ import annotations

import datetime as dt
import logging
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

from lib.errors import ConfigError

KST = ZoneInfo("Asia/Seoul")
LOGGER_NAME = "pipeline"


class _KstFormatter(logging.Formatter):
    def __init__(self, job: str) -> None:
        super().__init__()
        self.job = job

    def format(self, record: logging.LogRecord) -> str:
        stamp = dt.datetime.fromtimestamp(record.created, tz=KST).isoformat(timespec="seconds")
        line = f"{stamp} {self.job} {record.levelname} {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def setup_logging(job: str, level: str = "INFO", warnings_file: Path | None = None) -> logging.Logger:
    """Send the pipeline's records to stderr (cron appends it to logs/cron.log) tagged with the job; with
    `warnings_file`, WARNING and above also go to that file, in the same one-line format."""
    logger = logging.getLogger(LOGGER_NAME)
    for old in logger.handlers:
        if isinstance(old, logging.FileHandler):
            old.close()
    logger.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_KstFormatter(job))
    logger.addHandler(handler)
    if warnings_file is not None:
        try:
            # Append mode, so logrotate's copytruncate works; opened now, so a bad path is one clear line.
            severe = logging.FileHandler(warnings_file, mode="a", encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"LOG_WARNINGS_FILE={warnings_file}: cannot open it for appending ({exc.strerror}); "
                "create its folder or fix the path"
            ) from None
        severe.setLevel(logging.WARNING)
        severe.setFormatter(_KstFormatter(job))
        logger.addHandler(severe)
    logger.setLevel(level)
    logger.propagate = False
    return logger


def get_logger(name: str = "") -> logging.Logger:
    """A child of the pipeline logger, for library modules."""
    return logging.getLogger(f"{LOGGER_NAME}.{name}" if name else LOGGER_NAME)
