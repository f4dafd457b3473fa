"""Screener strategies: one module per strategy, discovered from this folder (issue #3)."""
