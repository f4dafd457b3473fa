"""The KRX market: KOSPI and KOSDAQ daily bars, its sources, the universe and the price-limit quarantine."""
