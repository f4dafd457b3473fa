"""Cross-sectional measures: one module per measure, discovered from this folder (see lib/analysis/cross_section.py)."""
