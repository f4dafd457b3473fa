"""The listed US common stocks (issue 17): their universe from NASDAQ Trader's symbol files, bars and sources."""
