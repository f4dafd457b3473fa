"""HTTP API: routers included by main.py. HTTP errors live here only."""
