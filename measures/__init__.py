"""Cross-sectional measures: one module per measure, discovered from this folder (see lib/cross_section.py)."""
