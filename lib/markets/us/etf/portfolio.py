"""Stages 4 and 5: the top holdings of each trending ETF and the model portfolio of one period.

Per trending ETF the best performer over the period among its top holdings is picked; weights are proportional
to performance x (1 / market cap) and sum to 1. Decisions (README, "US ETF portfolios"):
- a pick whose return is zero or negative is excluded (a long-only model cannot hold a negative weight), and
  the ETF's line in `excluded` says why;
- a stock picked by two ETFs is one position listing both ETFs, weighted once;
- a stock whose market cap is unknown (or not in USD) gets the median market cap of the other picks, and says so;
  with no market cap at all the weights follow performance alone;
- no trending ETF gives an empty portfolio with a note, a valid answer."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Holding:
    """One line of an ETF's holdings: holding_percent is the share of the fund in percent."""

    etf: str
    ticker: str
    name: str
    holding_percent: float


@dataclass(frozen=True)
class StockFacts:
    """What the portfolio needs to know about a stock on the day: market_cap in `currency` units."""

    ticker: str
    name: str
    sector: str | None
    market_cap: float | None
    currency: str | None


@dataclass(frozen=True)
class Trending:
    """A trending ETF of the period with its lead over the benchmark."""

    etf: str
    outperformance: float
    sector_name: str
    etf_type: str


@dataclass
class Position:
    """One stock of a model portfolio."""

    ticker: str
    name: str
    sector: str | None
    weight: float
    return_nd: float
    market_cap: float | None  # the stock's own, in `currency`
    market_cap_used: float | None  # USD: its own, or the picks' median when unknown or not in USD
    source_etfs: list[str]
    allocation_reason: str
    rank: int = 0
    currency: str | None = None


@dataclass
class Portfolio:
    """The portfolio of one period on one day; `excluded` lists trending ETFs that gave no position."""

    period_days: int
    positions: list[Position] = field(default_factory=list)
    excluded: list[dict] = field(default_factory=list)
    note: str = ""

    def as_dict(self) -> dict:
        """Plain fields for storage."""
        return asdict(self)


def top_holdings(rows: Sequence[Holding], n: int) -> list[Holding]:
    """The n largest holdings by weight (ties by ticker), one line per ticker."""
    seen: set[str] = set()
    out: list[Holding] = []
    for row in sorted(rows, key=lambda h: (-h.holding_percent, h.ticker)):
        if row.ticker not in seen:
            seen.add(row.ticker)
            out.append(row)
    return out[:n]


def _pct(value: float) -> str:
    return f"{value * 100:+.2f}%"


def _usd_cap(facts: StockFacts | None) -> float | None:
    if facts is None or facts.market_cap is None or facts.currency not in (None, "USD"):
        return None
    return facts.market_cap if facts.market_cap > 0 else None


def build_portfolio(
    period: int,
    trending: Sequence[Trending],
    holdings: Mapping[str, Sequence[Holding]],
    returns: Mapping[str, float | None],
    facts: Mapping[str, StockFacts],
    benchmark: str = "SPY",
    benchmark_rated: bool = True,
) -> Portfolio:
    """The period's portfolio from its trending ETFs, their top holdings and the holdings' returns;
    `benchmark_rated` False: the benchmark has no return over the period (too little history), so no ETF could
    trend."""
    portfolio = Portfolio(period)
    if not benchmark_rated:
        portfolio.note = (f"{benchmark} has no {period}-session return on this session (fewer than {period + 1} "
                          "sessions of its closes stored): no ETF could be compared with it, nothing to hold")
        return portfolio
    if not trending:
        portfolio.note = f"no ETF beat {benchmark} with a positive return over {period} sessions: nothing to hold"
        return portfolio
    picks: dict[str, list[Trending]] = {}
    best_of: dict[str, Holding] = {}
    for etf in trending:
        rated = [h for h in holdings.get(etf.etf, []) if returns.get(h.ticker) is not None]
        if not holdings.get(etf.etf):
            portfolio.excluded.append({"etf": etf.etf, "ticker": None, "reason": "no holdings stored for it"})
            continue
        if not rated:
            portfolio.excluded.append(
                {"etf": etf.etf, "ticker": None, "reason": f"none of its top holdings has a {period}-session return"}
            )
            continue
        best = min(rated, key=lambda h: (-returns[h.ticker], -h.holding_percent, h.ticker))  # type: ignore[operator]
        value = returns[best.ticker]
        assert value is not None
        if value <= 0:
            portfolio.excluded.append({
                "etf": etf.etf, "ticker": best.ticker,
                "reason": f"its best top holding {best.ticker} returned {_pct(value)} over {period} sessions; "
                          "a long-only portfolio holds no zero or negative performer",
            })
            continue
        picks.setdefault(best.ticker, []).append(etf)
        best_of.setdefault(best.ticker, best)
    if not picks:
        portfolio.note = f"every trending ETF's best holding fell over {period} sessions: nothing to hold"
        return portfolio

    caps = {ticker: _usd_cap(facts.get(ticker)) for ticker in picks}
    known = [c for c in caps.values() if c is not None]
    fallback = statistics.median(known) if known else None
    raw: dict[str, float] = {}
    for ticker in picks:
        used = caps[ticker] if caps[ticker] is not None else fallback
        raw[ticker] = returns[ticker] / used if used else returns[ticker]  # type: ignore[operator]
    total = sum(raw.values())
    for ticker, etfs in picks.items():
        info = facts.get(ticker)
        value = returns[ticker]
        assert value is not None
        used = caps[ticker] if caps[ticker] is not None else fallback
        leads = ", ".join(f"{e.etf} beat {benchmark} by {_pct(e.outperformance)}" for e in etfs)
        foreign = info is not None and info.market_cap is not None and info.market_cap > 0 and caps[ticker] is None
        if caps[ticker] is not None:
            cap_text = f"market cap USD {caps[ticker] / 1e9:,.1f}B"
        elif fallback is not None and foreign:
            cap_text = (f"market cap {info.currency} {info.market_cap / 1e9:,.1f}B is not in USD: the picks' "  # type: ignore[union-attr]
                        f"median USD {fallback / 1e9:,.1f}B used")
        elif fallback is not None:
            cap_text = f"market cap unknown: the picks' median USD {fallback / 1e9:,.1f}B used"
        else:
            cap_text = "no market cap known for any pick: weight by return alone"
        source = " and ".join(e.etf for e in etfs)
        reason = (
            f"best {period}-session performer ({_pct(value)}) of {source}'s top holdings ({leads}); "
            f"weight = return x 1/market cap, normalised ({cap_text})"
        )
        sector = (info.sector if info else None) or next(
            (e.sector_name for e in etfs if "sector" in e.etf_type), None
        )
        portfolio.positions.append(
            Position(
                ticker=ticker,
                name=(info.name if info and info.name else best_of[ticker].name) or ticker,
                sector=sector,
                weight=raw[ticker] / total,
                return_nd=value,
                market_cap=info.market_cap if info else None,
                market_cap_used=used,
                source_etfs=[e.etf for e in etfs],
                allocation_reason=reason,
                currency=info.currency if info and info.market_cap is not None else None,
            )
        )
    portfolio.positions.sort(key=lambda p: (-p.weight, p.ticker))
    for i, position in enumerate(portfolio.positions, start=1):
        position.rank = i
    return portfolio
