"""Logging: one line per event with a KST timestamp, the job name, the level and the message."""

from __future__ import annotations

import datetime as dt
import logging
import sys
from zoneinfo import ZoneInfo

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


def setup_logging(job: str, level: str = "INFO") -> logging.Logger:
    """Send the pipeline's records to stderr (cron appends it to logs/cron.log) tagged with the job."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_KstFormatter(job))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    return logger


def get_logger(name: str = "") -> logging.Logger:
    """A child of the pipeline logger, for library modules."""
    return logging.getLogger(f"{LOGGER_NAME}.{name}" if name else LOGGER_NAME)
