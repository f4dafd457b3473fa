"""The US market: the followed ETFs' bars and holdings, their sources and the ETF trend portfolio stages."""
