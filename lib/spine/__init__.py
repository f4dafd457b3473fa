"""The collection spine every dataset shares: calendars, the source chain, the per-session catch-up, the
watermark cadence, run records and locks, and the registry of datasets."""
