"""The US ETF trend portfolio (seed 002): pure computations, no I/O. The jobs in lib/markets/us/pipeline.py feed them
stored data and store what they return."""
