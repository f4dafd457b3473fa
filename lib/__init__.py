"""Library behind the cron scripts and the API: everything but argument parsing and the clock."""
