"""Analysis of stored bars: indicators, cross-sections, screeners and daily picks, and the analysis job."""
