"""The pipeline's error hierarchy: what went wrong decides whether to retry, fall back, or stop."""

# A script's exit codes: a person must fix a setting or a file (2), or a later run may pass (1).
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2


class PipelineError(Exception):
    """Base of every error the pipeline raises on purpose."""


class ConfigError(PipelineError):
    """A setting or an installation step needs a human; retrying will not help."""


class SourceError(PipelineError):
    """A data source could not deliver a day's market."""


class TransientSourceError(SourceError):
    """Timeout, connection reset, HTTP 5xx or 429: worth retrying after a pause."""


class RateLimitedError(TransientSourceError):
    """The source said "too many requests" (HTTP 429): the chain waits at least `pause` seconds (doubling) before
    asking again, longer than for other transient errors."""

    def __init__(self, message: str, pause: float = 60.0) -> None:
        super().__init__(message)
        self.pause = pause


class SourceBlockedError(SourceError):
    """The source refused us (blocked IP, logged out, bad key): stop calling it for this run."""


class EmptyAnswerError(SourceError):
    """The source answered a trading day with no rows: never treated as 'no data'."""


class BadDataError(SourceError):
    """The answer was malformed or failed validation."""


class StaleAnswerError(SourceError):
    """A day's answer repeats a neighbouring session exactly (served before the day was published)."""


class OutsideRangeError(SourceError):
    """The day lies before the first session the source can ever serve (replay files)."""


class LockLostError(PipelineError):
    """Another run took over this run's lock (ours went stale); stop writing at once."""


class NotifyError(PipelineError):
    """An alert channel did not take a message (unreachable, refused, bad answer): never fails the job."""
