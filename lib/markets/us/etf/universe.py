"""Which ETFs the pipeline follows and what is known about them without asking any source."""

from __future__ import annotations

from dataclasses import dataclass

PERIODS = (5, 10, 20)
ETF_JOB = "etf_pipeline"  # the job name of the US market's day records and runs

# Descriptions of the seed's ETFs; an ETF a user adds gets its type and sector from the settings only.
DESCRIPTIONS = {
    "SPY": "SPDR S&P 500 ETF: US large caps, the benchmark every ETF is compared with",
    "QQQ": "Invesco QQQ: Nasdaq-100, also the technology sector's stand-in",
    "IWM": "iShares Russell 2000: US small caps",
    "EWY": "iShares MSCI South Korea",
    "DIA": "SPDR Dow Jones Industrial Average",
    "SCHD": "Schwab US Dividend Equity",
    "XLF": "Financial Select Sector SPDR",
    "XLV": "Health Care Select Sector SPDR",
    "XLY": "Consumer Discretionary Select Sector SPDR",
    "XLC": "Communication Services Select Sector SPDR",
    "XLI": "Industrial Select Sector SPDR",
    "XLP": "Consumer Staples Select Sector SPDR",
    "XLU": "Utilities Select Sector SPDR",
    "XLRE": "Real Estate Select Sector SPDR",
    "XLB": "Materials Select Sector SPDR",
    "XLK": "Technology Select Sector SPDR",
    "XLE": "Energy Select Sector SPDR",
}
BENCHMARK_SECTORS = {
    "SPY": "US Large Cap",
    "QQQ": "Nasdaq-100",
    "IWM": "US Small Cap",
    "EWY": "South Korea",
    "DIA": "US Blue Chips",
    "SCHD": "US Dividend",
}


@dataclass(frozen=True)
class EtfSpec:
    """One followed ETF: benchmark (stage 1), sector (stage 2) or both (QQQ)."""

    ticker: str
    etf_type: str  # "benchmark", "sector" or "benchmark+sector"
    sector_name: str
    description: str

    def document(self) -> dict[str, str]:
        """The collected_meta_etf document."""
        return {
            "_id": self.ticker,
            "ticker": self.ticker,
            "etf_type": self.etf_type,
            "sector_name": self.sector_name,
            "description": self.description,
        }


def etf_specs(benchmarks: list[str], sectors: dict[str, str]) -> list[EtfSpec]:
    """The unique ETFs of both stages in order: benchmarks first, then the sector ETFs not already listed."""
    specs: list[EtfSpec] = []
    for ticker in benchmarks:
        kind = "benchmark+sector" if ticker in sectors else "benchmark"
        sector = sectors.get(ticker) or BENCHMARK_SECTORS.get(ticker, ticker)
        specs.append(EtfSpec(ticker, kind, sector, DESCRIPTIONS.get(ticker, ticker)))
    for ticker, sector in sectors.items():
        if ticker not in benchmarks:
            specs.append(EtfSpec(ticker, "sector", sector, DESCRIPTIONS.get(ticker, ticker)))
    return specs
