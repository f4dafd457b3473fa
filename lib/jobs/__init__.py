"""Jobs: run records and locks (runner), and the self-healing collection (collect)."""
