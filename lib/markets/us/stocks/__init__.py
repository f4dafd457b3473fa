"""The listed US common stocks (issue 17): their universe, daily bars, financials and options summary."""
